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
