"""Faults during a real `rlvr train` (Ray, vLLM engine, FSDP learner, verifier pool), each run in its own
session so the test can find and count every process it started:

- a vLLM engine killed with SIGKILL mid-run is restarted with the current weights; the run finishes
  every step, counts the restart and its log-prob gap stays at fp32 level after it;
- a learner worker killed with SIGKILL stops the run with one line naming the worker and the command
  that resumes it;
- SIGTERM to the driver, and SIGINT to its whole process group (Ctrl-C), stop the run at the next step
  boundary with exit code 143 / 130, and no process the run started survives it.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.tiny import make_tiny_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray2")]

REPO = Path(__file__).resolve().parents[1]
TINY = ["rollout.prompts_per_step=2", "rollout.group_size=2", "rollout.max_model_len=512", "rollout.max_tokens=16",
        "learner.num_workers=1", "data.eval_size=2", "eval.max_tokens=8", "save_checkpoint=false", "progress=false",
        "logger=[jsonl]"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


class Run:
    """`rlvr train` in a session of its own, its output in files."""

    def __init__(self, tmp_path: Path, model: str, *overrides: str):
        self.dir = tmp_path / "run"
        self.log = tmp_path / "stderr.log"
        self.out = tmp_path / "stdout.log"  # Hydra's job logging writes log records to stdout
        env = dict(os.environ, RLVR_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
        args = ["train", f"model.path={model}", *TINY, *overrides, f"output_dir={self.dir}",
                f"hydra.run.dir={tmp_path / 'hydra'}"]
        with open(self.log, "w") as err, open(self.out, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "rlvr.cli", *args], env=env, cwd=REPO,
                                         stdout=out, stderr=err, start_new_session=True)

    def steps(self) -> list[dict]:
        path = self.dir / "metrics.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [m for m in map(json.loads, lines) if "train/reward_mean" in m]

    def wait_for_step(self, n: int, timeout_s: float = 600) -> None:
        end = time.time() + timeout_s
        while time.time() < end:
            if any(m["step"] >= n for m in self.steps()):
                return
            assert self.proc.poll() is None, f"run ended before step {n}:\n{self.stderr()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"no step {n} in {timeout_s}s:\n{self.stderr()[-3000:]}")

    def processes(self) -> list[psutil.Process]:
        """Every process the run started: its descendants and anything left in its session."""
        found = {}
        try:
            found = {p.pid: p for p in psutil.Process(self.proc.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
        for p in psutil.process_iter():
            try:
                if p.pid != self.proc.pid and os.getsid(p.pid) == self.proc.pid:
                    found[p.pid] = p
            except (OSError, psutil.Error):
                continue
        return list(found.values())

    def actor(self, name: str) -> list[psutil.Process]:
        """The run's Ray actor processes of class `name` (Ray titles them ray::Class.method)."""
        out = []
        for p in self.processes():
            try:
                if any(part.startswith(f"ray::{name}") for part in p.cmdline()):
                    out.append(p)
            except psutil.Error:
                continue
        return out

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"rlvr train still running after {timeout_s}s:\n{self.stderr()[-3000:]}")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for p in self.processes():
            try:
                p.kill()
            except psutil.Error:
                pass
        self.proc.wait(timeout=30)


@pytest.fixture
def run(tmp_path, model):
    runs = []

    def start(*overrides):
        runs.append(Run(tmp_path, model, *overrides))
        return runs[-1]

    yield start
    for r in runs:  # a failed assertion must not leave a run behind
        if r.proc.poll() is None or r.processes():
            r.kill()


def _survivors(procs: list[psutil.Process], timeout_s: float) -> list[str]:
    end = time.time() + timeout_s
    alive = [p for p in procs if _live(p)]
    while alive and time.time() < end:
        time.sleep(0.2)
        alive = [p for p in alive if _live(p)]
    return [f"{p.pid} {p.name()}" for p in alive]


def _live(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_a_killed_engine_is_restarted_and_the_run_finishes(run):
    r = run("steps=4")
    r.wait_for_step(1)
    engines = r.actor("VLLMEngine")
    assert len(engines) == 1, [p.cmdline() for p in engines]
    engines[0].kill()  # SIGKILL, as the kernel's OOM killer would
    assert r.wait(600) == 0, r.stderr()[-3000:]
    steps = r.steps()
    assert [m["step"] for m in steps] == [1, 2, 3, 4]
    assert steps[-1]["rollout/engine_restarts"] >= 1
    assert all(m["rollout/logprob_gap"] < 1e-3 for m in steps)  # the new engine holds the current weights
    # Hydra's job logging: the console handler writes to stdout, the file handler to <hydra dir>/train_app.log
    logged = r.out.read_text(errors="replace") + "".join(
        f.read_text(errors="replace") for f in (r.dir.parent / "hydra").glob("*.log"))
    assert "rollout engine 0 died" in logged and "restarting it with policy version" in logged


def test_a_killed_learner_worker_stops_the_run_with_the_resume_command(run):
    r = run("steps=6", "learner.num_workers=2")
    r.wait_for_step(1)
    workers = r.actor("LearnerWorker")
    assert len(workers) == 2, [p.cmdline() for p in workers]
    victim = workers[1]
    victim.kill()
    code = r.wait(300)  # no hang: the surviving worker may wait in a collective forever
    err = r.stderr()
    assert code == 1, err[-3000:]
    line = next(x for x in err.splitlines() if x.startswith("rlvr train: learner worker rank"))
    assert f"(pid {victim.pid}) died; the run stopped." in line
    assert line.endswith(f"output_dir={r.dir} checkpoint.resume=auto")
    assert "rlvr train model.path=" in line
    assert "Traceback" not in err
    assert _survivors(r.processes(), 60) == []


@pytest.mark.parametrize("sig, to_group, code", [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)],
                         ids=["sigterm", "sigint-to-group"])
def test_a_signal_stops_the_run_and_leaves_no_process(run, sig, to_group, code):
    r = run("steps=50")
    r.wait_for_step(1)
    started = r.processes()
    assert r.actor("VLLMEngine") and r.actor("LearnerWorker")
    assert any("rlvr-verifier-worker" in " ".join(p.cmdline()) or "multiprocessing" in " ".join(p.cmdline())
               for p in started)  # the verifier pool's workers are among them
    (os.killpg if to_group else os.kill)(r.proc.pid, sig)
    assert r.wait(180) == code, r.stderr()[-3000:]
    err = r.stderr()
    name = signal.Signals(sig).name
    assert f"rlvr train: stopped by {name} after " in err and "no checkpoint saved (checkpoint.every=0)" in err
    assert len(r.steps()) < 50
    assert _survivors(started, 60) == [], err[-2000:]
    assert _survivors(r.processes(), 0) == []  # nor anything else in its session (zombies left to init count as gone)
