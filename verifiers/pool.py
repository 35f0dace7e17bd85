"""Score batches in worker processes with a hard per-item timeout.

Each worker is a ``spawn``-started process (safe when the caller has threads: nothing is
forked from a threaded parent) that builds verifiers on demand and scores one item at a
time. The parent hands out items and watches a deadline per item; a worker that overruns
it, crashes, or hangs in C code is killed together with anything it started (it leads its
own process group) and replaced. The item gets reward 0 and ``error`` set; every other item
is still scored, so ``score`` always returns one result per item, in order. Deadlines are
measured by the parent, so the pool works off the main thread and inside Ray actors.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing import util as mp_util
from multiprocessing.connection import Connection, wait
from typing import Any, Sequence

from verifiers._process import become_child
from verifiers.base import VerifierResult, get_verifier

_CTX = multiprocessing.get_context("spawn")
MAX_FAILED_STARTS = 3  # consecutive worker start failures before the pool gives up on a batch


@dataclasses.dataclass
class ScoreItem:
    verifier: str
    response: str
    ground_truth: Any
    prompt: str | None = None
    metadata: dict[str, Any] | None = None


def coerce_result(obj: Any, name: str) -> VerifierResult:
    """Check a verifier's return value; plain bools and numbers are accepted as rewards."""
    if isinstance(obj, VerifierResult):
        result = obj
    elif isinstance(obj, bool):
        result = VerifierResult(reward=float(obj), correct=obj)
    elif isinstance(obj, (int, float)):
        result = VerifierResult(reward=float(obj), correct=float(obj) >= 1.0)
    else:
        raise TypeError(f"verifier {name!r} returned {type(obj).__name__}, expected VerifierResult")
    if not isinstance(result.reward, (int, float)) or not math.isfinite(result.reward) or not 0.0 <= result.reward <= 1.0:
        raise ValueError(f"verifier {name!r} returned reward {result.reward!r}, outside [0, 1]")
    result.reward = float(result.reward)
    return result


def _worker_main(conn: Connection, verifier_options: dict[str, dict[str, Any]], import_modules: tuple[str, ...]) -> None:
    import importlib

    become_child(own_process_group=True)  # the pool kills the whole group: this worker and any helper it started
    built: dict[str, Any] = {}
    import_error = None
    for module in import_modules:
        try:
            importlib.import_module(module)  # runs the @register decorators it holds
        except Exception as exc:  # reported when a verifier is loaded, not as a crash
            import_error = f"cannot import {module!r}: {type(exc).__name__}: {exc}"
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg[0] == "stop":
            break
        if msg[0] == "load":
            name = msg[1]
            if import_error is not None:
                conn.send(("loaded", name, import_error))
                continue
            try:
                verifier = get_verifier(name, **verifier_options.get(name, {}))
                warm = getattr(verifier, "warmup", None)
                if callable(warm):
                    warm()
                built[name] = verifier
                conn.send(("loaded", name, None))
            except Exception as exc:  # reported for every item of this verifier
                conn.send(("loaded", name, f"cannot load verifier {name!r}: {type(exc).__name__}: {exc}"))
            continue
        _, idx, name, response, ground_truth, prompt, metadata = msg
        try:
            result = coerce_result(built[name](response, ground_truth, prompt=prompt, metadata=metadata), name)
        except Exception as exc:  # one bad item must not stop the batch
            result = VerifierResult.failure(f"verifier {name!r} raised {type(exc).__name__}: {exc}")
        try:
            conn.send(("result", idx, result))
        except Exception as exc:  # e.g. unpicklable details
            conn.send(("result", idx, VerifierResult.failure(f"verifier {name!r} result cannot be sent: {exc}")))
    for verifier in built.values():
        close = getattr(verifier, "close", None)
        if callable(close):
            close()


class _Worker:
    def __init__(self, verifier_options: dict[str, dict[str, Any]], import_modules: tuple[str, ...],
                 start_timeout_s: float):
        parent_conn, child_conn = _CTX.Pipe(duplex=True)
        self.conn = parent_conn
        self.process = _CTX.Process(target=_worker_main, args=(child_conn, verifier_options, import_modules),
                                    name="rlvr-verifier-worker", daemon=False)
        self.process.start()
        child_conn.close()
        self.state = "starting"  # starting | idle | loading | busy
        self.loaded: set[str] = set()
        self.loading: str | None = None
        self.item: int | None = None
        self.sent_at = 0.0  # when the current item was handed over
        self.deadline = time.monotonic() + start_timeout_s

    def kill(self) -> None:
        """Kill the worker and its process group (helpers it started), then reap it."""
        pid = self.process.pid
        if pid is not None and self.process.exitcode is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, ValueError):
            pass  # the worker is already gone: nothing left to stop


def _shutdown(workers: list[_Worker]) -> None:
    for w in workers:
        w.stop()
    end = time.monotonic() + 3.0
    for w in workers:
        w.process.join(timeout=max(end - time.monotonic(), 0.05))
    for w in workers:
        w.kill()
    workers.clear()


class VerifierPool:
    """``VerifierPool(num_workers, timeout_s, verifier_options).score(items)``.

    ``verifier_options`` maps a verifier name to the keyword options it is built with, e.g.
    ``{"random": {"p": 0.3}}``. ``start_timeout_s`` bounds worker start-up and verifier
    loading (imports, warm-up), which never count against an item's ``timeout_s``.
    ``import_modules`` are imported in every worker first: workers are fresh interpreters, so
    a verifier registered with ``@register`` in your own module is only known there if that
    module is imported (built-ins and entry-point plug-ins need nothing).
    """

    def __init__(self, num_workers: int | None = None, timeout_s: float = 10.0,
                 verifier_options: dict[str, dict[str, Any]] | None = None, start_timeout_s: float = 120.0,
                 import_modules: Sequence[str] = ()):
        num_workers = (os.cpu_count() or 1) if num_workers is None else num_workers
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.num_workers = int(num_workers)
        self.timeout_s = float(timeout_s)
        self.start_timeout_s = float(start_timeout_s)
        self.verifier_options = {k: dict(v) for k, v in (verifier_options or {}).items()}
        self.import_modules = tuple(import_modules)
        self._workers: list[_Worker] = []
        self._load_errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.replaced_workers = 0
        self.latencies: list[float | None] = []  # seconds from hand-over to result, per item of the last batch
        self._finalizer = mp_util.Finalize(self, _shutdown, args=(self._workers,), exitpriority=10)
        for _ in range(self.num_workers):
            self._workers.append(self._new_worker())

    def _new_worker(self) -> _Worker:
        return _Worker(self.verifier_options, self.import_modules, self.start_timeout_s)

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._workers[self._workers.index(w)] = self._new_worker()
        self.replaced_workers += 1

    # -- public API -------------------------------------------------------------
    def score(self, items: Sequence[ScoreItem]) -> list[VerifierResult]:
        """One result per item, in order; never raises for a bad item."""
        with self._lock:
            if self._closed:
                raise RuntimeError("VerifierPool is closed")
            self._load_errors.clear()  # a verifier that failed to load gets a fresh try per batch
            results: list[VerifierResult | None] = [None] * len(items)
            self.latencies = [None] * len(items)
            queue: collections.deque[int] = collections.deque()
            for i, item in enumerate(items):
                problem = _item_problem(item)
                if problem is None:
                    queue.append(i)
                else:
                    results[i] = VerifierResult.failure(f"item {i}: {problem}")
            self._run(items, queue, results)
            return [r if r is not None else VerifierResult.failure("not scored") for r in results]

    def score_one(self, verifier: str, response: str, ground_truth: Any, prompt: str | None = None,
                  metadata: dict[str, Any] | None = None) -> VerifierResult:
        return self.score([ScoreItem(verifier, response, ground_truth, prompt, metadata)])[0]

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._finalizer()

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- scheduling -------------------------------------------------------------
    def _run(self, items: Sequence[ScoreItem], queue: collections.deque[int],
             results: list[VerifierResult | None]) -> None:
        failed_starts = 0
        while queue or any(w.state in ("busy", "loading") for w in self._workers):
            self._dispatch(items, queue, results)
            waiting = [w for w in self._workers if w.state != "idle"]
            if not waiting:
                continue
            timeout = max(min(w.deadline for w in waiting) - time.monotonic(), 0.0)
            ready = wait([w.conn for w in waiting], timeout=timeout)
            for w in [w for w in waiting if w.conn in ready]:
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    failed_starts += self._on_death(w, results)
                    continue
                self._on_message(w, msg, results)
                if msg[0] == "ready":
                    failed_starts = 0
            now = time.monotonic()
            for w in [w for w in self._workers if w.state != "idle" and w.deadline <= now]:
                failed_starts += self._on_deadline(w, results)
            if failed_starts >= MAX_FAILED_STARTS * self.num_workers:
                for i in queue:
                    results[i] = VerifierResult.failure("no verifier worker could be started")
                queue.clear()

    def _dispatch(self, items: Sequence[ScoreItem], queue: collections.deque[int],
                  results: list[VerifierResult | None]) -> None:
        for w in self._workers:
            while w.state == "idle" and queue:
                idx = queue[0]
                item = items[idx]
                if item.verifier in self._load_errors:
                    results[queue.popleft()] = VerifierResult.failure(self._load_errors[item.verifier])
                    continue
                if item.verifier not in w.loaded:
                    if self._send(w, ("load", item.verifier)):
                        w.state, w.loading = "loading", item.verifier
                        w.deadline = time.monotonic() + self.start_timeout_s
                    break
                msg = ("score", idx, item.verifier, item.response, item.ground_truth, item.prompt, item.metadata)
                try:
                    sent = self._send(w, msg)
                except Exception as exc:  # e.g. an unpicklable ground truth: this item only
                    results[queue.popleft()] = VerifierResult.failure(f"item {idx} cannot be sent to a worker: {exc}")
                    continue
                if not sent:
                    break
                queue.popleft()
                w.state, w.item = "busy", idx
                w.sent_at = time.monotonic()
                w.deadline = w.sent_at + self.timeout_s

    def _send(self, w: _Worker, msg: tuple[Any, ...]) -> bool:
        """Send to an idle worker; a worker found dead is replaced (the message is not lost)."""
        try:
            w.conn.send(msg)
            return True
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._replace(w)
            return False

    def _on_message(self, w: _Worker, msg: tuple[Any, ...], results: list[VerifierResult | None]) -> None:
        kind = msg[0]
        if kind == "ready":
            w.state = "idle"
        elif kind == "loaded":
            _, name, error = msg
            if error is None:
                w.loaded.add(name)
            else:
                self._load_errors[name] = error
            w.state, w.loading = "idle", None
        elif kind == "result":
            _, idx, result = msg
            results[idx] = result
            self._took(w, idx)
            w.state, w.item = "idle", None

    def _took(self, w: _Worker, idx: int) -> None:
        if idx < len(self.latencies):
            self.latencies[idx] = time.monotonic() - w.sent_at

    def _on_death(self, w: _Worker, results: list[VerifierResult | None]) -> int:
        w.process.join(timeout=5)
        code = w.process.exitcode
        if w.state == "busy" and w.item is not None:
            results[w.item] = VerifierResult.failure(f"verifier worker died while scoring (exit code {code})")
            self._took(w, w.item)
        elif w.state == "loading" and w.loading is not None:
            self._load_errors[w.loading] = f"verifier worker died while loading {w.loading!r} (exit code {code})"
        started = w.state != "starting"
        self._replace(w)
        return 0 if started else 1

    def _on_deadline(self, w: _Worker, results: list[VerifierResult | None]) -> int:
        if w.state == "busy" and w.item is not None:
            results[w.item] = VerifierResult.failure(
                f"timed out after {self.timeout_s:g}s (worker killed and replaced)", timeout_s=self.timeout_s)
            self._took(w, w.item)
        elif w.state == "loading" and w.loading is not None:
            self._load_errors[w.loading] = f"loading verifier {w.loading!r} took longer than {self.start_timeout_s:g}s"
        started = w.state != "starting"
        self._replace(w)
        return 0 if started else 1


def _item_problem(item: Any) -> str | None:
    if not isinstance(item, ScoreItem):
        return f"expected ScoreItem, got {type(item).__name__}"
    if not isinstance(item.verifier, str) or not item.verifier:
        return f"field 'verifier' must be a non-empty string, got {item.verifier!r}"
    if not isinstance(item.response, str):
        return f"field 'response' must be a string, got {type(item.response).__name__}"
    if item.prompt is not None and not isinstance(item.prompt, str):
        return f"field 'prompt' must be a string or None, got {type(item.prompt).__name__}"
    if item.metadata is not None and not isinstance(item.metadata, dict):
        return f"field 'metadata' must be a dict or None, got {type(item.metadata).__name__}"
    return None
