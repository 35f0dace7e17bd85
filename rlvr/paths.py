"""Where the project's own files are, whatever the working directory (Hydra changes it).

The configs (conf/) and the built-in datasets (datasets/) sit at the top of the repository. A built
wheel ships them inside the package as ``rlvr/_conf`` and ``rlvr/_datasets`` (pyproject.toml maps
those two package names onto the top-level folders), so the same names work in both installs:

    checkout (editable or PYTHONPATH):  <repo>/conf, <repo>/datasets
    wheel install:                       <site-packages>/rlvr/_conf, <site-packages>/rlvr/_datasets

The datasets folder is read by file path (rlvr/data/builtin.py), never imported as ``datasets``,
which is the Hugging Face library's name.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent  # the checkout's root; in a wheel install, site-packages (nothing reads it then)


def _shipped_or_checkout(shipped: str, top_level: str) -> Path:
    inside = PACKAGE_DIR / shipped  # present only in a wheel install: a checkout has no rlvr/_conf
    return inside if inside.is_dir() else REPO_ROOT / top_level


CONF_DIR = _shipped_or_checkout("_conf", "conf")
DATASETS_DIR = _shipped_or_checkout("_datasets", "datasets")


def cache_dir() -> Path:
    """Base checkpoints and other reusable artefacts: $RLVR_CACHE, else ~/.cache/rlvr."""
    return Path(os.environ.get("RLVR_CACHE", Path.home() / ".cache" / "rlvr"))

