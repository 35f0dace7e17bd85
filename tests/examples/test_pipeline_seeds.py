"""examples/pipeline/seeds.py: the RL-Zero table over seeds, on pipeline summaries written here the way
`rlvr pipeline` writes them (the pipelines themselves take minutes each)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "pipeline" / "seeds.py"
spec = importlib.util.spec_from_file_location("pipeline_seeds", SCRIPT)
seeds = importlib.util.module_from_spec(spec)
sys.modules["pipeline_seeds"] = seeds
spec.loader.exec_module(seeds)


def _pipeline(root: Path, job: int, seed: int, base_end: float, mid_end: float) -> None:
    out = root / str(job)
    out.mkdir(parents=True)
    summary = {"rl_overrides": [f"seed={seed}", "steps=150"],
               "base": {"stage_eval": 0.30}, "midtrained": {"stage_eval": 0.70},
               "rl_zero": {"base": {"start": 0.30, "end": base_end}, "midtrained": {"start": 0.70, "end": mid_end}}}
    (out / "pipeline_summary.json").write_text(json.dumps(summary))


def test_rows_give_each_start_its_change_per_seed_and_mean_sd(tmp_path):
    _pipeline(tmp_path, 0, 2, 0.75, 0.80)
    _pipeline(tmp_path, 1, 0, 0.65, 0.70)
    _pipeline(tmp_path, 2, 1, 0.70, 0.75)
    (tmp_path / "3").mkdir()  # a pipeline that never finished: no summary, left out
    rows = seeds.table(seeds.read_summaries(tmp_path))
    base, mid = rows
    assert base["run"] == "RL-Zero from base" and base["seeds"] == [0, 1, 2]
    assert base["change"] == pytest.approx([35.0, 40.0, 45.0])  # ends 0.65 / 0.70 / 0.75 from 0.30
    assert base["change_mean"] == pytest.approx(40.0) and base["change_sd"] == pytest.approx(5.0)
    assert mid["change"] == pytest.approx([0.0, 5.0, 10.0]) and mid["change_mean"] == pytest.approx(5.0)
    text = seeds.markdown(rows)
    assert "| RL-Zero from base | 0,1,2 | 0.300 | 0.300 | 0.650 / 0.700 / 0.750 | +35.0 / +40.0 / +45.0 | +40.0 (5.0) |" \
        in text
    assert "| RL-Zero from midtrained | 0,1,2 | 0.700 | 0.700 |" in text


def test_a_pipeline_without_an_rl_seed_is_named(tmp_path):
    out = tmp_path / "0"
    out.mkdir()
    (out / "pipeline_summary.json").write_text(json.dumps({"rl_overrides": ["steps=10"]}))
    with pytest.raises(ValueError, match=r"0/pipeline_summary.json: rl_overrides has no seed=N"):
        seeds.read_summaries(tmp_path)
