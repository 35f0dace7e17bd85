"""The whole loop on real parts: base pretraining (FSDP on Ray), vLLM engine, verifiers, FSDP
learner, weight sync, eval, checkpoint. A short version of the default experiment."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

# Small everything: the point is the plumbing and the logged contract, not learning.
SHORT = ["model.base.corpus_docs=3000", "model.base.steps=30", "model.base.batch_size=16",
         "steps=3", "rollout.prompts_per_step=4", "rollout.group_size=4", "data.eval_size=16",
         "data.train_size=200", "progress=false"]

STEP_KEYS = ["step", "train/reward_mean", "train/zero_std_frac", "rollout/logprob_gap", "rollout/tokens_per_s",
             "learner/tokens_per_s", "time/step_s", "loss/clip_frac", "loss/tis_weight_mean",
             "response/length_mean", "response/length_max"]


def _rlvr(args, cache, timeout=900):
    env = dict(os.environ, RLVR_CACHE=str(cache), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "rlvr.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_multirun_random_reward(tmp_path, cache):
    """The negative control as a multirun; with learner.lr=0 it must end exactly where it started (issue 10):
    nothing but the optimizer may move the policy (no drift from weight sync, sampling state or eval)."""
    sweep = tmp_path / "sweep"
    proc = _rlvr(["train", "-m", "seed=1,2", "reward=random", "learner.lr=0", *SHORT, "steps=2",
                  "save_checkpoint=false", "eval.samples=2", "eval.temperature=1.0", f"hydra.sweep.dir={sweep}"], cache)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "metrics.jsonl").exists())
    assert len(runs) == 2
    for r in runs:
        cfg = (r / "config.yaml").read_text()
        assert "verifier: random" in cfg
        lines = [json.loads(x) for x in (r / "metrics.jsonl").read_text().splitlines()]
        assert sum("train/reward_mean" in m for m in lines) == 2
        # eval/errors counts verifier timeouts (the math cascade's 1.5 s wall-clock budget on garbage samples),
        # which depend on the machine's load, not on the policy: every other eval key must be equal
        start, end = [{k: v for k, v in m.items() if k.startswith("eval/") and k not in ("eval/seconds", "eval/errors")}
                      for m in lines if "eval/accuracy" in m]
        assert start == end  # sampled eval (n=2, T=1): the same weights and the same reseeded draws


TIMING = ("time/", "tokens_per_s", "samples_per_s")  # wall-clock figures: the only keys allowed to differ


def _untimed(path):
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [{k: v for k, v in m.items() if not any(t in k for t in TIMING)} for m in lines]


# (overrides, steps, eval steps): the default, and the scale settings in one pair of runs (issue 13): the
# collective weight sync with generation two steps ahead (step 3's groups are drawn at step 1, two versions old)
REPRO = {
    "default": (["steps=2", "eval.every=1"], 2, [0, 1, 2]),
    "collective_async2": (["steps=3", "rollout.weight_sync=collective", "rollout.async_steps=2",
                           "save_checkpoint=false"], 3, [0, 3]),
}


@pytest.mark.parametrize("variant", list(REPRO))
def test_same_seed_same_metrics_and_validation_every_step(tmp_path, cache, variant):
    """Reproducibility (issue 10): one config and seed, run twice, give identical metrics.jsonl apart from
    timings. The default preset runs asynchronously (async_steps=1) with active sampling, so both are covered;
    eval.every=1 also puts a validation line after every step (before, after step 1 and at the end).

    The one wall-clock dependence left is the verifier's: a symbolic comparison cut at the math verifier's
    1.5 s budget scores 0 with an error, and on a loaded machine that differs from run to run (seen here:
    eval/errors 2 vs 0, everything else identical). The budgets are raised so that every item is decided.
    """
    overrides, steps, eval_steps = REPRO[variant]
    runs = []
    budgets = ["reward.verifier=math", "+reward.options.timeout_s=60", "reward.timeout_s=120"]
    for name in ("a", "b"):
        run = tmp_path / name
        proc = _rlvr(["train", *SHORT, *budgets, *overrides, "eval.samples=2", "eval.temperature=1.0",
                      f"hydra.run.dir={run}"], cache)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs.append(_untimed(run / "metrics.jsonl"))
    if variant == "default":
        _check_the_run_dir(tmp_path / "a", cache)
    first, second = runs
    assert [m["step"] for m in first if "eval/accuracy" in m] == eval_steps
    lines = [m for m in first if "train/reward_mean" in m]
    assert len(lines) == steps
    assert all(m.get("eval/errors", 0) == 0 and m.get("train/verifier_errors", 0) == 0 for m in first)
    for m in lines:  # every sync, either transport: the engines hold the learner's weights, quietly
        assert m["rollout/logprob_gap"] < 1e-3 and m["sync/load_warnings"] == 0 and m["rollout/stale_dropped"] == 0
    if variant == "collective_async2":
        assert [m["rollout/version_lag_max"] for m in lines] == [0, 1, 2]  # the last step trained two behind
        assert all(m["sync/bytes"] > 0 for m in lines)
    assert first == second


def _check_the_run_dir(run: Path, cache: Path) -> None:
    """The whole loop's outputs (the base pretrained on Ray, engine, verifiers, learner, sync, eval, checkpoint):
    config, TensorBoard, a final checkpoint transformers loads, and the base cached for the next command."""
    assert (run / "config.yaml").exists() and list((run / "tensorboard").iterdir())
    steps = [m for m in (json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines())
             if "train/reward_mean" in m]
    assert steps and all(key in m for m in steps for key in STEP_KEYS)
    ckpt = Path(json.loads((run / "summary.json").read_text())["checkpoint"])
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(ckpt)
    AutoTokenizer.from_pretrained(ckpt)
    again = _rlvr(["pretrain", *[o for o in SHORT if o.startswith("model.")]], cache, timeout=120)
    assert again.returncode == 0 and again.stdout.strip().endswith("final"), again.stderr[-2000:]
