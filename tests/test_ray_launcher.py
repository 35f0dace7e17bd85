"""`rlvr train -m hydra/launcher=ray`: a two-job sweep whose jobs run as Ray tasks of one cluster, each placing
its own vLLM engine and FSDP learner there (rlvr/placement.py joins the running cluster inside a task).
The smallest real job: a tiny checkpoint, one step of two prompts x two samples, two eval prompts."""
import json
import os
import re
import subprocess
import sys

import pytest

from tests.tiny import make_tiny_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TINY_JOB = ["steps=1", "rollout.prompts_per_step=2", "rollout.group_size=2", "data.eval_size=2", "data.train_size=20",
            "learner.num_workers=1", "reward.num_workers=1", "save_checkpoint=false", "progress=false"]


def test_two_job_sweep_through_the_ray_launcher(tmp_path):
    model = make_tiny_checkpoint(tmp_path / "tiny")
    sweep = tmp_path / "sweep"
    # each job places 1 engine + 1 learner worker (2 CPUs); its driver task reserves none (conf/hydra/launcher/ray.yaml)
    args = ["train", "-m", "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=4", "seed=1,2", f"model.path={model}",
            *TINY_JOB, f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", RLVR_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "rlvr.cli", *args], env=env, capture_output=True, text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "Ray Launcher is launching 2 jobs" in out
    # both jobs ran as Ray tasks (Ray prefixes a task's output with its function and pid) and joined the cluster
    assert len(set(re.findall(r"\(_run_job pid=(\d+)\)", out))) == 2, out[-5000:]
    joined = re.findall(r"\(_run_job pid=(\d+)\)[^\n]*running as a Ray task: using its cluster", out)
    assert len(set(joined)) == 2, out[-5000:]
    for job, seed in (("0", 1), ("1", 2)):
        run = sweep / job
        assert f"seed: {seed}\n" in (run / "config.yaml").read_text()
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert [m["step"] for m in lines if "train/reward_mean" in m] == [1]
        assert sum("eval/accuracy" in m for m in lines) == 2
        assert (run / ".hydra" / "overrides.yaml").exists()
    # the sweep's figure, one line per job labelled by the override that differs
    plot = subprocess.run([sys.executable, "-m", "rlvr.cli", "plot", str(sweep), "-o", str(sweep / "plot.png")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert plot.returncode == 0 and "2 run(s): seed=1, seed=2" in plot.stdout, plot.stdout + plot.stderr
    assert (sweep / "plot.png").read_bytes()[:4] == b"\x89PNG"
