"""rlvr/lifecycle.py without Ray: the run-directory preflight, the signal guard, the resume command.
The same paths on a real run (engines, learner, Ray) are in tests/test_faults.py."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from rlvr.lifecycle import Interrupted, RunDirError, SignalGuard, check_run_dir

REPO = Path(__file__).resolve().parents[1]


def test_a_writable_run_dir_passes_and_keeps_nothing(tmp_path):
    run = tmp_path / "a" / "run"
    check_run_dir(run, min_free_gb=0.0)
    assert run.is_dir() and list(run.iterdir()) == []


def test_a_file_in_the_way_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunDirError, match=f"run directory {blocker / 'run'} is not writable"):
        check_run_dir(blocker / "run", min_free_gb=0.0)


def test_a_read_only_file_system_is_named():
    # /proc refuses new directories even to root, which a chmod-ed directory would not
    with pytest.raises(RunDirError, match="run directory /proc/rlvr-run is not writable"):
        check_run_dir(Path("/proc/rlvr-run"), min_free_gb=0.0)


def test_a_full_disk_is_named(tmp_path):
    # "full" is relative to min_free_gb: no disk has a petabyte free
    with pytest.raises(RunDirError, match=rf"run directory {tmp_path} has [0-9.]+ GiB free, less than min_free_gb=1e\+06"):
        check_run_dir(tmp_path, min_free_gb=1e6)


def _rlvr(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "rlvr.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_rlvr_train_reports_the_run_dir_before_anything_starts(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = _rlvr("train", f"output_dir={blocker}/run", f"hydra.run.dir={tmp_path}/hydra")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"rlvr train: run directory {blocker}/run is not writable" in proc.stderr
    assert "Traceback" not in proc.stderr and "Ray" not in proc.stderr + proc.stdout  # Ray never started
    full = _rlvr("train", f"output_dir={tmp_path}/run", "min_free_gb=1e6", f"hydra.run.dir={tmp_path}/hydra")
    assert full.returncode == 2 and "less than min_free_gb=1e+06" in full.stderr, full.stderr[-2000:]


def test_the_first_signal_asks_and_the_stop_reports_the_checkpoint():
    saved = []
    with SignalGuard() as guard:
        assert not guard.requested
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # handlers run between bytecodes of the main thread
        assert guard.requested
        with pytest.raises(Interrupted, match="stopped by SIGTERM after 3 steps; checkpoint saved to /ck/3") as exc:
            guard.stop(3, lambda n: saved.append(n) or f"/ck/{n}")
    assert exc.value.exit_code == 143 and saved == [3]
    assert signal.getsignal(signal.SIGTERM) is not guard._handle  # put back on exit


def test_a_second_signal_kills_the_children_and_exits_at_once(tmp_path):
    script = textwrap.dedent("""
        import os, signal, subprocess, sys, time
        from rlvr.lifecycle import SignalGuard
        child = subprocess.Popen(["sleep", "300"])
        print(child.pid, flush=True)
        with SignalGuard():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(30)
        print("not reached", flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130 and time.time() - started < 25, proc.stderr
    assert "not reached" not in proc.stdout
    assert "stopping at the next step boundary" in proc.stderr and "second SIGINT" in proc.stderr
    child = int(proc.stdout.split()[0])
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_the_resume_command_outside_hydra(tmp_path):
    from hydra.core.hydra_config import HydraConfig

    from rlvr.train_app import compose, resume_command

    HydraConfig.instance().cfg = None  # an app run earlier in this process (another test) leaves its config set

    cfg = compose(["steps=3"])
    assert resume_command(cfg, tmp_path) == f"rlvr train hydra.run.dir={tmp_path} checkpoint.resume=auto"
    cfg.output_dir = str(tmp_path)
    assert resume_command(cfg, tmp_path).endswith(f"output_dir={tmp_path} checkpoint.resume=auto")
