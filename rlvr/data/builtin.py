"""Built-in dataset definitions: plain Python files under <repo>/datasets/, loaded by file path.

The folder is deliberately not an importable package called ``datasets`` (that would shadow Hugging Face
``datasets``). Each file ``datasets/<name>.py`` is imported as module ``rlvr_datasets.<name>`` and must define
``generate(split, n, seed) -> list[dict]``; it may also define ``format_prompt(row)``, ``PROMPT_TEMPLATE``,
``STOP`` and ``VERIFIER``. Extra folders can be searched first by listing them in ``RLVR_DATASETS_PATH``
(os.pathsep-separated).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from rlvr.paths import DATASETS_DIR

MODULE_PREFIX = "rlvr_datasets"


def dataset_dirs() -> list[Path]:
    """Folders searched for ``<name>.py``, in order."""
    extra = [Path(p) for p in os.environ.get("RLVR_DATASETS_PATH", "").split(os.pathsep) if p]
    return extra + [DATASETS_DIR]


def list_builtin() -> list[str]:
    names = set()
    for folder in dataset_dirs():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.py") if p.stem.isidentifier() and not p.stem.startswith("_"))
    return sorted(names)


def find_builtin(name: str) -> Path | None:
    if not name.isidentifier():
        return None
    for folder in dataset_dirs():
        path = folder / f"{name}.py"
        if path.is_file():
            return path
    return None


def load_builtin(name: str) -> ModuleType:
    """The module defining dataset ``name``; loaded once per process and then reused."""
    module_name = f"{MODULE_PREFIX}.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = find_builtin(name)
    if path is None:
        known = ", ".join(list_builtin()) or "(none)"
        raise KeyError(f"unknown built-in dataset {name!r}; known: {known} (searched {', '.join(map(str, dataset_dirs()))})")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load dataset module from {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses and pickling look the module up by name while it executes.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    if not callable(getattr(module, "generate", None)):
        del sys.modules[module_name]
        raise TypeError(f"dataset module {path} must define generate(split, n, seed) -> list[dict]")
    return module
