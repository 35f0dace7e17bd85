"""Build once, reuse after: the cache behind `rlvr pretrain`'s base and the recipe stages (`recipe:NAME`).

An entry is a directory under cache_dir() named by a key of everything its build depends on. A build
runs under an exclusive file lock, and a DONE marker is written only when it finished, so concurrent
callers (two runs, a multirun) build an entry once and never read a half-written one.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

DONE = "DONE"


def key(blob: Any) -> str:
    """A short stable hash of a JSON-able description of a build."""
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_built(root: Path) -> bool:
    return (root / DONE).exists()


def build_once(root: Path, build: Callable[[Path], Any]) -> bool:
    """Run build(root) unless `root` holds a finished build; True when it was built by this call."""
    if is_built(root):
        return False
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(root):  # another process built it while we waited for the lock
            return False
        build(root)
        (root / DONE).write_text("ok\n")
    return True
