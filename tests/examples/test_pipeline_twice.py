"""examples/pipeline/twice.py: the stage-by-stage comparison of two pipeline output directories, on directories
written here the way `rlvr pipeline` writes them (the pipelines themselves take minutes each)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "pipeline" / "twice.py"
spec = importlib.util.spec_from_file_location("pipeline_twice", SCRIPT)
twice = importlib.util.module_from_spec(spec)
sys.modules["pipeline_twice"] = twice
spec.loader.exec_module(twice)


def _jsonl(path: Path, lines: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def _pipeline(out: Path, weights: bytes = b"w", loss: float = 1.5, reward: float = 0.5, seconds: float = 1.0) -> Path:
    summary = {"rl_zero": {}}
    for stage in ("base", "midtrain"):
        final = out / stage / "final"
        final.mkdir(parents=True)
        (final / "model.safetensors").write_bytes(weights + stage.encode())
        _jsonl(out / stage / "train_log.jsonl", [{"step": 1, "loss": loss, "tokens_per_s": 100 * seconds}])
        summary["base" if stage == "base" else "midtrained"] = {"checkpoint": str(final)}
    for run in ("base", "midtrained"):
        run_dir = out / f"rl_zero_from_{run}"
        _jsonl(run_dir / "metrics.jsonl", [{"step": 0, "eval/accuracy": 0.3, "eval/seconds": seconds},
                                           {"step": 1, "train/reward_mean": reward, "time/step_s": 2 * seconds}])
        summary["rl_zero"][run] = {"run_dir": str(run_dir)}
    (out / "pipeline_summary.json").write_text(json.dumps(summary))
    return out


def test_pipelines_that_differ_only_in_timings_are_identical(tmp_path):
    a = _pipeline(tmp_path / "a", seconds=1.0)
    b = _pipeline(tmp_path / "b", seconds=7.0)
    assert twice.compare(a, b) == []


def test_each_difference_is_named_by_stage_file_and_key(tmp_path):
    a = _pipeline(tmp_path / "a")
    b = _pipeline(tmp_path / "b", weights=b"v", loss=1.25, reward=0.75)
    assert twice.compare(a, b) == [
        f"base: checkpoints differ ({a / 'base' / 'final'} against {b / 'base' / 'final'})",
        "base: train_log.jsonl line 1 differs in loss",
        f"midtrained: checkpoints differ ({a / 'midtrain' / 'final'} against {b / 'midtrain' / 'final'})",
        "midtrained: train_log.jsonl line 1 differs in loss",
        "RL-Zero from base: metrics.jsonl line 2 differs in train/reward_mean",
        "RL-Zero from midtrained: metrics.jsonl line 2 differs in train/reward_mean",
    ]


def test_a_missing_line_is_a_difference(tmp_path):
    a = _pipeline(tmp_path / "a")
    b = _pipeline(tmp_path / "b")
    _jsonl(b / "rl_zero_from_base" / "metrics.jsonl", [{"step": 0, "eval/accuracy": 0.3}])
    assert twice.compare(a, b) == ["RL-Zero from base: metrics.jsonl 2 lines against 1"]
