"""How a run starts and stops on purpose: the run-directory preflight, SIGINT/SIGTERM, and the one-line
messages (with exit codes) of a run that ends early.

- `check_run_dir` runs before Ray, vLLM or the learner start: an output directory that cannot be
  created or written, or one on a disk with less than `min_free_gb` free, is reported then, naming the
  path, instead of after an hour of training when the first checkpoint is written.
- `SignalGuard` turns the first SIGINT/SIGTERM into a request the trainer honours at its next step
  boundary (save a checkpoint when checkpoints are on, close engines, learner and verifier pool, exit
  128 + signal number: 130 for SIGINT, 143 for SIGTERM). A second signal does not wait: it kills every
  process the run started (Ray's included) and exits at once.
- `RunStopped` is what such an ending raises: `rlvr train` prints its message as one line, not a
  traceback, and exits with its code.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Callable

log = logging.getLogger(__name__)


class RunStopped(RuntimeError):
    """A run that ended early for a reason the user must act on; `str()` is the whole message."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class Interrupted(RunStopped):
    """SIGINT/SIGTERM honoured at a step boundary."""


class RunDirError(RunStopped):
    """The run directory cannot hold the run."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=2)


# ------------------------------------------------------------------ run directory
def check_run_dir(path: Path, min_free_gb: float) -> None:
    """Create `path`, write and remove a probe file in it, and require `min_free_gb` GiB free on its disk.

    Raises RunDirError naming the path and the reason (no permission, read-only file system, a file in
    the way, disk full, too little free space).
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".rlvr-write-probe-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)  # a real write: a full disk fails here, not at mkdir
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as exc:
        reason = errno.errorcode.get(exc.errno or 0, "")
        raise RunDirError(f"run directory {path} is not writable: {exc.strerror or exc} ({reason}); "
                          f"choose another output_dir / hydra.run.dir") from None
    free_gb = shutil.disk_usage(path).free / 2**30
    if free_gb < min_free_gb:
        raise RunDirError(f"run directory {path} has {free_gb:.2f} GiB free, less than min_free_gb={min_free_gb:g}; "
                          f"free space or choose another output_dir")


# ------------------------------------------------------------------ signals
class SignalGuard:
    """`with SignalGuard() as guard:` the first SIGINT/SIGTERM sets `guard.signum`; `guard.stop(...)` at a step
    boundary ends the run; a second signal kills the run's processes and exits at once.

    Handlers are installed only in the main thread of a driver (Python allows no other); elsewhere (a job
    run as a Ray task by the Ray launcher) the guard is inert and the launcher owns signals.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "SignalGuard":
        self.arm()
        return self

    def arm(self) -> None:
        """(Re)install the handlers: call again after `ray.init`, which sets its own SIGTERM handler."""
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                previous = signal.signal(sig, self._handle)
                self._previous.setdefault(sig, previous)

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signum is None:
            self.signum = signum
            print(f"rlvr: {name} received: stopping at the next step boundary (send it again to stop at once)",
                  file=sys.stderr, flush=True)
            return
        print(f"rlvr: second {name}: killing the run's processes now", file=sys.stderr, flush=True)
        kill_descendants()
        os._exit(128 + signum)

    def stop(self, steps_done: int, save: Callable[[int], Any] | None) -> None:
        """End the run at this step boundary: save (when given) and raise Interrupted with the exit code."""
        assert self.signum is not None
        name = signal.Signals(self.signum).name
        where = "no checkpoint saved (checkpoint.every=0)"
        if save is not None:
            where = f"checkpoint saved to {save(steps_done)}"
        raise Interrupted(f"stopped by {name} after {steps_done} steps; {where}", exit_code=128 + self.signum)


def kill_descendants(grace_s: float = 5.0) -> None:
    """SIGTERM every descendant process (Ray's raylet and workers, vLLM, verifier workers), SIGKILL the rest."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for sig_send in ("terminate", "kill"):
        for child in children:
            try:
                getattr(child, sig_send)()
            except psutil.Error:
                pass
        _, children = psutil.wait_procs(children, timeout=grace_s)
        if not children:
            return


def shutdown_ray() -> None:
    """Stop the Ray cluster this driver started (raylet, GCS, idle workers; a joined cluster is only left).
    Not inside a Ray task: that worker's cluster belongs to the launcher."""
    import ray

    from rlvr.placement import in_ray_task

    if ray.is_initialized() and not in_ray_task():
        ray.shutdown()
