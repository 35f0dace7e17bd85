"""examples/ablate_algorithms/run.py: its arms and the table it prints (mean and spread over seeds), on run
directories written here the way `rlvr train` writes them (the runs themselves take minutes each)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ablate_algorithms" / "run.py"
spec = importlib.util.spec_from_file_location("ablate_algorithms", SCRIPT)
ablate = importlib.util.module_from_spec(spec)
sys.modules["ablate_algorithms"] = ablate
spec.loader.exec_module(ablate)


def _run(root: Path, arm: str, seed: int, start: float, end: float, lengths: list[float], total_s: float) -> None:
    run = root / arm / f"seed_{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(f"seed: {seed}\nalgorithm:\n  name: x\n  seed_like: 9\n")
    (run / "summary.json").write_text(json.dumps({"eval/accuracy_start": start, "eval/accuracy_end": end,
                                                  "time/total_s": total_s}))
    lines = [{"step": 0, "eval/accuracy": start}] + [{"step": i + 1, "response/length_mean": n}
                                                     for i, n in enumerate(lengths)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_table_gives_each_arm_its_mean_and_spread_over_seeds(tmp_path):
    _run(tmp_path, "olmorl", 1, 0.40, 0.85, [10, 20], 120)
    _run(tmp_path, "olmorl", 0, 0.40, 0.80, [12, 14], 60)
    _run(tmp_path, "olmorl", 2, 0.40, 0.90, [16, 16], 180)
    _run(tmp_path, "grpo", 0, 0.40, 0.70, [8], 60)
    (tmp_path / "grpo" / "seed_1").mkdir()  # a run that never finished: no summary.json, left out
    rows = ablate.table(tmp_path)
    assert [r["arm"] for r in rows] == ["grpo", "olmorl"]
    grpo, olmorl = rows
    assert olmorl["seeds"] == [0, 1, 2] and olmorl["change"] == pytest.approx([40.0, 45.0, 50.0])
    assert olmorl["change_mean"] == pytest.approx(45.0) and olmorl["change_sd"] == pytest.approx(5.0)
    # per-run means first (13, 15, 16), then their mean; minutes 1, 2, 3
    assert olmorl["length_mean"] == pytest.approx(44 / 3) and olmorl["minutes"] == pytest.approx(2.0)
    assert grpo["seeds"] == [0] and grpo["change_mean"] == pytest.approx(30.0) and grpo["change_sd"] == 0.0
    text = ablate.markdown(rows)
    assert "| olmorl | 0,1,2 | +40.0 / +45.0 / +50.0 | +45.0 (5.0) | 0.400 | 0.850 | 14.7 | 2.0 |" in text


def test_arms_are_the_presets_then_the_named_variants():
    got = ablate.arms("olmorl,grpo", ['olmorl_mb4=algorithm=olmorl learner.mini_batches=4'])
    assert got == {"olmorl": ["algorithm=olmorl"], "grpo": ["algorithm=grpo"],
                   "olmorl_mb4": ["algorithm=olmorl", "learner.mini_batches=4"]}
    for bad in ("olmorl=x", "novalue", "=algorithm=grpo"):
        with pytest.raises(SystemExit, match="--variant"):
            ablate.arms("olmorl", [bad])


def test_every_preset_in_conf_is_in_the_default_arms():
    presets = {p.stem for p in (SCRIPT.parents[2] / "conf" / "algorithm").glob("*.yaml")}
    assert set(ablate.PRESETS.split(",")) == presets
