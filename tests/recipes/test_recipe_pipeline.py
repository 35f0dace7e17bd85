"""The pipeline's argument handling and its table (the run itself is examples/pipeline, minutes long)."""
from __future__ import annotations

import pytest

from rlvr.recipes.pipeline import format_table, main, split_overrides, sweep


def test_overrides_go_to_their_stage():
    parts = split_overrides(["base.train.lr=1e-3", "midtrain.data.mix=other", "rl.steps=10"])
    assert parts == {"base": ["train.lr=1e-3"], "midtrain": ["data.mix=other"], "rl": ["steps=10"]}
    with pytest.raises(ValueError, match="expected base.KEY=VALUE"):
        split_overrides(["train.lr=1"])


def test_sweeps_expand_commas_but_not_lists():
    combos = sweep(["midtrain.data.mix=a,b", "rl.steps=5,10", "base.long_context.eval_lengths=[1,2]"])
    assert len(combos) == 4
    assert ["midtrain.data.mix=b", "rl.steps=5", "base.long_context.eval_lengths=[1,2]"] in combos
    assert sweep([]) == [[]]


def test_bad_overrides_fail_before_anything_runs(capsys):
    assert main(["nonsense=1"]) == 2
    assert "expected base.KEY=VALUE" in capsys.readouterr().err


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
