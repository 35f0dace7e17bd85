"""The pipeline's argument handling and its table (the run itself is examples/pipeline, minutes long)."""
from __future__ import annotations

import pytest

from rlvr.pipeline import format_table, main, rl_overrides
from rlvr.recipes.config import RecipeConfig


def test_overrides_go_to_their_stage(capsys):
    import yaml

    assert main(["base.learner.lr=1e-3", "midtrain.data.mix=other", "rl.steps=10", "--cfg", "job"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["base"]["learner"]["lr"] == 1e-3 and printed["midtrain"]["data"]["mix"] == "other"
    assert printed["rl"] == {"steps": 10}
    # rl.* reach `rlvr train` as written (a config group choice such as rl.algorithm=grpo included)
    assert rl_overrides(["base.learner.lr=1e-3", "rl.steps=10", "+rl.foo=1", "rl.algorithm=grpo"]) == \
        ["steps=10", "+foo=1", "algorithm=grpo"]


def test_sweeps_expand_commas_but_not_lists(tmp_path, monkeypatch):
    import rlvr.pipeline as pipeline

    combos = []
    monkeypatch.setattr(pipeline, "run_pipeline",
                        lambda base, mid, rl, out, fresh=False: combos.append((mid.data.mix, rl, base)) or {"table": ""})
    assert main(["-m", "midtrain.data.mix=tiny_midtrain,tiny_pretrain", "rl.steps=5,10",
                 "base.long_context.eval_lengths=[1,2]", f"hydra.sweep.dir={tmp_path}"]) == 0
    assert len(combos) == 4
    assert ("tiny_pretrain", ["steps=5"]) in [(m, rl) for m, rl, _ in combos]
    assert all(isinstance(b, RecipeConfig) and b.long_context.eval_lengths == [1, 2] for _, _, b in combos)


def test_bad_overrides_fail_before_anything_runs(capsys, monkeypatch):
    import rlvr.pipeline as pipeline

    monkeypatch.setattr(pipeline, "run_pipeline", lambda *a, **k: pytest.fail("ran"))
    assert main(["nonsense=1"]) != 0
    assert "Could not override 'nonsense'" in capsys.readouterr().err
    assert main(["base.learner.lrr=1"]) != 0
    assert "base.learner.lrr" in capsys.readouterr().err


def test_the_table_shows_every_stage_and_the_verdict():
    summary = {
        "base": {"stage_eval": 0.24, "cached": True}, "midtrained": {"stage_eval": 0.61},
        "rl_zero": {"base": {"start": 0.24, "end": 0.30}, "midtrained": {"start": 0.60, "end": 0.72}},
        "times_s": {"base": 360.0, "midtrain": 120.0, "rl_zero_from_base": 150.0, "rl_zero_from_midtrained": 150.0,
                    "total": 780.0},
        "midtrained_starts_higher": True,
    }
    table = format_table(summary)
    lines = table.splitlines()
    assert lines[2].startswith("base (pretrained only)") and "24.0%" in lines[2] and lines[2].endswith("cached")
    assert lines[3].endswith("2.0m")
    assert "RL-Zero from midtrained" in lines[5] and "60.0%" in lines[5] and "72.0%" in lines[5]
    assert lines[-1].startswith("midtrained base starts RL-Zero higher than the pretrained-only base: yes")
    assert "13.0 min" in lines[-1]


TINY_PIPELINE = [
    "fresh=true",
    *[f"{stage}.{o}" for stage in ("base", "midtrain") for o in
      ("train.batch_size=4", "learner.micro_batch_size=2", "train.log_every=1", "eval.size=8", "eval.max_tokens=16")],
    "base.data.total_tokens=20000", "base.model.tiny.tokenizer_docs=1500", "base.train.steps=3",
    "midtrain.data.total_tokens=10000", "midtrain.train.steps=2",
    "rl.steps=2", "rl.rollout.prompts_per_step=4", "rl.rollout.group_size=4", "rl.data.eval_size=16",
    "rl.data.train_size=200", "rl.save_checkpoint=false", "rl.eval.samples=2", "rl.eval.temperature=1.0",
    # every math comparison decided (not cut by the verifier's wall-clock budget), as in tests/test_end_to_end.py
    "rl.reward.verifier=math", "+rl.reward.options.timeout_s=60", "rl.reward.timeout_s=120",
]
TIMING = ("time", "tokens_per_s", "samples_per_s", "mfu", "elapsed_s", "seconds")


def _untimed_lines(path):
    import json

    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [{k: v for k, v in m.items() if not any(t in k for t in TIMING)} for m in lines]


@pytest.mark.slow
@pytest.mark.xdist_group("ray2")
def test_tiny_pipeline_twice_gives_the_same_stages_and_metrics(tmp_path):
    """Reproducibility of `rlvr pipeline` (issue 10), stage by stage: built fresh twice with one config, the base
    and midtrained checkpoints are bitwise equal, their training logs and both RL-Zero runs' metrics.jsonl match
    on every non-timing key."""
    import os
    import subprocess
    import sys

    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        env = dict(os.environ, RLVR_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
        proc = subprocess.run([sys.executable, "-m", "rlvr.cli", "pipeline", *TINY_PIPELINE, f"output_dir={out}"],
                              env=env, capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outs.append(out)
    a, b = outs
    for stage in ("base", "midtrain"):
        assert (a / stage / "final" / "model.safetensors").read_bytes() == \
            (b / stage / "final" / "model.safetensors").read_bytes(), stage
        log_a = _untimed_lines(a / stage / "train_log.jsonl")
        assert log_a and log_a == _untimed_lines(b / stage / "train_log.jsonl"), stage
    for run in ("rl_zero_from_base", "rl_zero_from_midtrained"):
        metrics = _untimed_lines(a / run / "metrics.jsonl")
        assert sum("train/reward_mean" in m for m in metrics) == 2, run
        assert metrics == _untimed_lines(b / run / "metrics.jsonl"), run


def test_rl_runs_in_a_multirun_job_directory_named_after_its_overrides(tmp_path, monkeypatch):
    """`rlvr pipeline -m rl.seed=0,1` names each job's directory after its overrides (`0_rl.seed=0`); the RL
    stage's checkpoint path and run directory sit under it, and a path with '=' must not be parsed as an
    override (it was: "mismatched input '='", after the base and midtraining had been built)."""
    import rlvr.pipeline as pipeline

    seen = {}
    monkeypatch.setattr(pipeline, "train", lambda cfg, run_dir: seen.update(cfg=cfg, run_dir=run_dir) or {})
    job = tmp_path / "0_rl.seed=0"
    pipeline._rl(str(job / "midtrain" / "final"), ["seed=3", "model.path=/ignored"], job / "rl_zero_from_base")
    cfg = seen["cfg"]
    assert cfg.model.path == str(job / "midtrain" / "final") and cfg.output_dir == str(job / "rl_zero_from_base")
    assert cfg.seed == 3 and cfg.rollout.max_tokens == 64  # the user's override and the pipeline's RL default
