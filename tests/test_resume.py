"""Exact resume of `rlvr train` after kill -9 (issue 11): the whole process group is killed right after a
checkpoint became complete, the resumed run is killed again in the middle of writing a checkpoint
(RLVR_FAULT_KILL_IN_CHECKPOINT), and the run resumed from the last complete one must end with bitwise the
weights, and every non-timing metric (eval lines included) and sampled token, of a run never interrupted.

Kept cheap: one chain of three launches against one baseline (each launch starts Ray, a vLLM engine and
two FSDP workers), a random-init tiny model, four steps of two prompts x two samples.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlvr.checkpoint import FAULT_ENV
from rlvr.rollout_log import read_rollouts

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray2")]

# Random rewards (deterministic per sample id) give every group signal; overlong=none lets the always-
# truncated responses of a random-init model train, so the weights move; active sampling (olmorl) is on.
TINY = ["reward=random", "algorithm.overlong=none", "steps=4", "rollout.prompts_per_step=2", "rollout.group_size=2",
        "rollout.max_tokens=8", "data.train_size=50", "data.eval_size=4", "eval.max_tokens=8", "eval.every=2",
        "eval.samples=2", "eval.temperature=1.0", "learner.lr=1e-3", "progress=false", "checkpoint.every=1",
        "rollout_log=true"]
TIMING = ("time/", "tokens_per_s", "samples_per_s")


def _launch(run: Path, model: str, extra: list[str], env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    """`rlvr train` in a session (process group) of its own, as a node's whole process tree."""
    # RAY_ADDRESS=local: a cluster of its own even where `ray start` runs one (a kill must take all of it)
    env = dict(os.environ, PYTHONUNBUFFERED="1", RAY_ADDRESS="local", **(env_extra or {}))
    log = open(run.parent / f"{run.name}.{time.time_ns()}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "rlvr.cli", "train", *TINY, f"model.path={model}",
                             f"output_dir={run}", *extra], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _session_pids(sid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == sid:
                    pids.append(int(name))
            except (ProcessLookupError, PermissionError):
                pass
    return pids


def _reap(proc: subprocess.Popen) -> int:
    """Wait for the run, then SIGKILL by pid whatever of its session outlived it (Ray daemons in other groups)."""
    rc = proc.wait(timeout=900)
    for pid in _session_pids(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return rc


def _untimed(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in m.items() if not any(t in k for t in TIMING)} for m in lines]


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "checkpoint" / "model.safetensors"))


def _tail(run: Path) -> str:
    return "\n".join(p.read_text()[-4000:] for p in sorted(run.parent.glob(f"{run.name}.*.log")))


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    from tests.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, model) -> Path:
    run = tmp_path_factory.mktemp("baseline") / "run"
    proc = _launch(run, model, [])
    assert _reap(proc) == 0, _tail(run)
    return run


def test_kill9_after_and_during_checkpoint_then_resume_is_bitwise_exact(tmp_path, model, baseline):
    run = tmp_path / "run"
    latest = run / "checkpoints" / "latest"
    # 1. kill -9 of the whole process group as soon as a checkpoint is complete
    proc = _launch(run, model, [])
    while not latest.exists() and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert _reap(proc) == -signal.SIGKILL, _tail(run)
    first = latest.read_text().strip()
    assert first in ("step_1", "step_2") and not (run / "summary.json").exists()
    # 2. resume; this run kills its own process group while writing the step-3 checkpoint
    proc = _launch(run, model, ["checkpoint.resume=auto"], {FAULT_ENV: "3"})
    assert _reap(proc) == -signal.SIGKILL, _tail(run)
    assert latest.read_text().strip() == "step_2"
    half = run / "checkpoints" / ".step_3.tmp"
    assert (half / "learner").is_dir() and not (half / "trainer_state.pkl").exists() and not (half / "COMPLETE").exists()
    # 3. resume again: from step_2 (the half-written step 3 is ignored), to the end
    proc = _launch(run, model, ["checkpoint.resume=auto"])
    assert _reap(proc) == 0, _tail(run)
    assert "resumed from" in _tail(run) and f"{run}/checkpoints/step_2 at step 2" in _tail(run)

    got, want = _weights(run), _weights(baseline)
    assert set(got) == set(want)
    assert all(got[k].dtype == want[k].dtype and got[k].equal(want[k]) for k in want), "final weights differ"
    from safetensors.torch import load_file

    init = load_file(str(Path(model) / "model.safetensors"))
    assert any(not init[k].equal(want[k]) for k in init if k in want), "training never moved the weights"
    metrics = _untimed(run)
    assert metrics == _untimed(baseline)
    assert [m["step"] for m in metrics if "train/reward_mean" in m] == [1, 2, 3, 4]
    assert [m["step"] for m in metrics if "eval/accuracy" in m] == [0, 2, 4]
    for step in range(1, 5):  # the same prompts, tokens, log-probs and rewards, sample by sample
        assert read_rollouts(run, step) == read_rollouts(baseline, step)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_2", "step_3"]

    # a setting that changes the run is refused, naming the key
    refused = subprocess.run([sys.executable, "-m", "rlvr.cli", "train", *TINY, f"model.path={model}",
                              f"output_dir={run}", "checkpoint.resume=auto", "rollout.group_size=4"],
                             capture_output=True, text=True, timeout=600, start_new_session=True,
                             env=dict(os.environ, RAY_ADDRESS="local"))
    assert refused.returncode != 0 and "rollout.group_size" in refused.stderr, refused.stderr[-3000:]


def test_rollout_log_holds_each_step_sample_by_sample(baseline):
    records = read_rollouts(baseline, 1)
    assert len(records) >= 2 and all(r["step"] == 1 and r["drawn_for_step"] == 0 for r in records)
    assert sum(r["kept"] for r in records) == 2  # the step's quota (prompts_per_step) of kept groups
    for r in records:
        assert r["prompt"] and len(r["samples"]) == 2 and r["version"] == 0
        for s in r["samples"]:
            assert len(s["response_ids"]) == len(s["logprobs"]) > 0 and s["reward"] in (0.0, 1.0)
    assert [r["uid"] for r in records] == sorted(r["uid"] for r in records)
