"""A midtraining stage killed with kill -9 (its whole process group) resumes from its newest complete
checkpoint when run again into the same output dir, and ends with bitwise the weights and the same
train_log.jsonl (timings aside) as a run never interrupted (issue 11)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TIMING = ("tokens_per_s", "mfu", "elapsed_s")


def _stage(out: Path, start: Path) -> subprocess.Popen:
    args = ["midtrain", "recipe=tiny_midtrain", f"model.path={start}", "data.total_tokens=6000", "data.seq_len=64",
            "train.steps=8", "train.batch_size=4", "learner.micro_batch_size=2", "learner.warmup_steps=2",
            "train.save_every=2", "train.log_every=1", "eval.enabled=false", "decontamination.enabled=false",
            f"output_dir={out}"]
    log = open(f"{out}.{time.time_ns()}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "rlvr.cli", *args], env=dict(os.environ, PYTHONUNBUFFERED="1", RAY_ADDRESS="local"),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _reap(proc: subprocess.Popen) -> int:
    """Wait, then SIGKILL by pid whatever of the run's session outlived it."""
    rc = proc.wait(timeout=900)
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.getsid(int(name)) == proc.pid:
                os.kill(int(name), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return rc


def _tail(out: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(out.parent.glob(f"{out.name}.*.log")))


def _untimed(out: Path) -> list[dict]:
    lines = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in m.items() if k not in TIMING} for m in lines]


def test_midtrain_killed_with_kill9_resumes_to_bitwise_same_weights(make_checkpoint, tmp_path):
    from safetensors.torch import load_file

    start = make_checkpoint("midtrain_resume_start", seed=3)
    whole = tmp_path / "whole"
    assert _reap(_stage(whole, start)) == 0, _tail(whole)

    run = tmp_path / "run"
    proc = _stage(run, start)
    latest = run / "checkpoints" / "latest"
    while not latest.exists() and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert _reap(proc) == -signal.SIGKILL, _tail(run)
    assert not (run / "final").exists()
    assert _reap(_stage(run, start)) == 0, _tail(run)
    assert "causal LM: resumed from" in _tail(run)

    got = load_file(str(run / "final" / "model.safetensors"))
    want = load_file(str(whole / "final" / "model.safetensors"))
    assert set(got) == set(want) and all(got[k].equal(want[k]) for k in want), "final weights differ"
    assert _untimed(run) == _untimed(whole)
    assert [m["step"] for m in _untimed(run)] == list(range(1, 9))
