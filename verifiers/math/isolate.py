"""Run functions in a long-lived helper process with a hard deadline per call.

Why a process: a sympy blow-up such as ``9^{9^{9^9}}`` spends its time inside one C-level
big-integer operation, which neither ``signal.alarm`` (main thread only, and only between
bytecodes) nor a thread can interrupt. The helper is killed instead and a fresh one is
started in the background, so a deadline holds on any thread, in pool workers and in Ray
actors. The helper is a plain ``subprocess`` (not ``multiprocessing``), so it can also be
started from daemonic processes; its pipes are separate file descriptors, so nothing the
helper prints can corrupt the protocol.

The child side is :mod:`verifiers.math._helper_main` (``python -m``, started only by :class:`Helper`).
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import weakref
from multiprocessing.connection import Connection
from typing import Any


class HelperTimeout(Exception):
    """The call overran its deadline; the helper was killed."""


class HelperFailure(Exception):
    """The helper died or the called function raised."""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [p if p else os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


class Helper:
    """One helper process running ``module.HELPER_FUNCTIONS``; thread-safe (calls serialise)."""

    def __init__(self, module: str, startup_timeout_s: float = 120.0):
        self.module = module
        self.startup_timeout_s = startup_timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._tx: Connection | None = None
        self._rx: Connection | None = None
        self._ready = False
        self.restarts = 0
        self._finalizer = weakref.finalize(self, Helper._kill_process, [None])

    # -- process management -------------------------------------------------
    def _spawn(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "verifiers.math._helper_main", str(to_child_r), str(from_child_w), self.module],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env=_child_env(),
                close_fds=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._tx = Connection(to_child_w, readable=False)
        self._rx = Connection(from_child_r, writable=False)
        self._ready = False
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, Helper._kill_process, [self._proc, self._tx, self._rx])

    @staticmethod
    def _kill_process(handles: list[Any]) -> None:
        proc, *conns = handles + [None] * (3 - len(handles))
        for conn in conns:
            if conn is not None:
                try:
                    conn.close()
                except OSError:
                    pass  # the helper's end may already be broken; it is being killed anyway
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass  # SIGKILL was sent; a zombie left briefly is reaped by the next wait

    def _discard(self, restart: bool) -> None:
        self._finalizer()
        self._proc = self._tx = self._rx = None
        self._ready = False
        if restart:
            # Start the replacement now so it imports sympy while the caller moves on.
            self.restarts += 1
            self._spawn()

    def _ensure_ready(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._discard(restart=False)  # died between calls (e.g. its parent thread exited)
        if self._proc is None:
            self._spawn()
        if self._ready:
            return
        assert self._rx is not None
        if not self._rx.poll(self.startup_timeout_s):
            self._discard(restart=False)
            raise HelperFailure(f"helper for {self.module} did not start within {self.startup_timeout_s:.0f}s")
        try:
            msg = self._rx.recv()
        except (EOFError, OSError) as exc:
            code = self._proc.wait() if self._proc else None
            self._discard(restart=False)
            raise HelperFailure(f"helper for {self.module} exited during start-up (exit code {code})") from exc
        if msg[0] != "ready":
            self._discard(restart=False)
            raise HelperFailure(f"helper for {self.module} failed to start: {msg[1]}")
        self._ready = True

    # -- public API -----------------------------------------------------------
    def start(self) -> None:
        """Start the helper and wait until it is ready (not counted against any deadline)."""
        with self._lock:
            self._ensure_ready()

    def call(self, fn: str, *args: Any, timeout_s: float) -> Any:
        """Run ``fn(*args)`` in the helper; raise HelperTimeout after ``timeout_s`` seconds."""
        with self._lock:
            self._ensure_ready()
            assert self._tx is not None and self._rx is not None
            try:
                self._tx.send((fn, args))
            except (BrokenPipeError, OSError) as exc:
                self._discard(restart=True)
                raise HelperFailure(f"helper for {self.module} is gone: {exc}") from exc
            started = time.monotonic()
            if not self._rx.poll(max(timeout_s, 0.0)):
                self._discard(restart=True)
                raise HelperTimeout(f"{fn} took longer than {timeout_s:.2f}s (killed after {time.monotonic() - started:.2f}s)")
            try:
                status, value = self._rx.recv()
            except (EOFError, OSError) as exc:
                code = self._proc.wait() if self._proc else None
                self._discard(restart=True)
                raise HelperFailure(f"helper for {self.module} died (exit code {code})") from exc
            if status == "ok":
                return value
            raise HelperFailure(value)

    def close(self) -> None:
        with self._lock:
            self._discard(restart=False)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

