"""Child side of :class:`verifiers.math.isolate.Helper`: ``python -m verifiers.math._helper_main
READ_FD WRITE_FD MODULE``. Imports MODULE, runs its ``warm`` helper function if it has one,
announces itself, then answers ``(fn, args)`` requests with ``("ok", result)`` or
``("error", message)`` until its input pipe closes. Warming before "ready" matters for the
replacement started after a timeout: the parent waits for "ready" outside any item's budget,
so the next item is not charged for the first parse's lazy imports (over 1 s on a loaded CPU).
Kept apart from isolate.py so that running it with ``-m`` does not re-import that module.
"""
from __future__ import annotations

import importlib
import os
import sys
from multiprocessing.connection import Connection

from verifiers._process import become_child


def _child_main(argv: list[str]) -> int:
    read_fd, write_fd, module_name = int(argv[0]), int(argv[1]), argv[2]
    become_child()  # the parent decides when we stop
    rx = Connection(read_fd, writable=False)
    tx = Connection(write_fd, readable=False)
    try:
        functions = importlib.import_module(module_name).HELPER_FUNCTIONS
        if "warm" in functions:
            functions["warm"]()
    except BaseException as exc:  # report any import or warm-up failure to the parent, then exit
        tx.send(("error", f"{type(exc).__name__}: {exc}"))
        return 1
    tx.send(("ready", os.getpid()))
    while True:
        try:
            fn, args = rx.recv()
        except (EOFError, OSError):
            return 0
        try:
            result = ("ok", functions[fn](*args))
        except Exception as exc:  # the parent turns this into a scoring error
            result = ("error", f"{type(exc).__name__}: {exc}")
        try:
            tx.send(result)
        except Exception as exc:  # e.g. an unpicklable result
            tx.send(("error", f"cannot return result: {type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
