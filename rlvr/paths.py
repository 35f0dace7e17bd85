"""Where the project's own files are, whatever the working directory (Hydra changes it)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
DATASETS_DIR = REPO_ROOT / "datasets"


def cache_dir() -> Path:
    """Base checkpoints and other reusable artefacts: $RLVR_CACHE, else ~/.cache/rlvr."""
    return Path(os.environ.get("RLVR_CACHE", Path.home() / ".cache" / "rlvr"))
