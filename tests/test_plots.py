"""`rlvr plot`: runs and multiruns found and labelled, every panel's lines are the runs' metrics, a real PNG."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr.cli import main as rlvr_main
from rlvr.plots import PANELS, draw, find_runs


def _run(run_dir: Path, steps: int, scale: float, overrides: list[str] | None = None) -> None:
    """A metrics.jsonl as the trainer writes it: eval at step 0, step lines, eval after the last step."""
    run_dir.mkdir(parents=True)
    lines = [{"step": 0, "eval/accuracy": 0.1 * scale}]
    for s in range(1, steps + 1):
        lines.append({"step": s, "train/reward_mean": scale * s, "train/accuracy": scale * s / 2,
                      "response/length_mean": 10.0 + s, "rollout/truncation_rate": 0.5 / s,
                      "loss/clip_frac": 0.01 * s, "loss/tis_weight_mean": 1.0, "loss/tis_clipped_frac": 0.0,
                      "rollout/logprob_gap": None})
    lines.append({"step": steps, "eval/accuracy": 0.2 * scale})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    if overrides is not None:  # what Hydra writes for each job of a multirun
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))


def _lines(fig, title):
    [ax] = [a for a in fig.axes if a.get_title() == title]
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def _is_png(path: Path) -> tuple[int, int]:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape[:2]


def test_one_run_dir(tmp_path):
    _run(tmp_path / "run", 3, 1.0)
    out = tmp_path / "out" / "plot.png"
    assert rlvr_main(["plot", str(tmp_path / "run"), "-o", str(out)]) == 0
    assert _is_png(out) == (800, 1500)
    fig = draw(find_runs([tmp_path / "run"]))
    assert [a.get_title() for a in fig.axes] == [title for title, _ in PANELS]
    assert _lines(fig, "reward") == {"run": ([1, 2, 3], [1.0, 2.0, 3.0])}
    assert _lines(fig, "accuracy") == {"run train": ([1, 2, 3], [0.5, 1.0, 1.5]), "run eval": ([0, 3], [0.1, 0.2])}
    assert _lines(fig, "truncation rate")["run"] == ([1, 2, 3], [0.5, 0.25, 0.5 / 3])
    assert set(_lines(fig, "truncated importance sampling")) == {"run weight mean", "run clipped frac"}


def test_multirun_dir_compares_jobs_labelled_by_their_overrides(tmp_path):
    sweep = tmp_path / "sweep"
    shared = ["steps=2", "progress=false"]
    _run(sweep / "0_olmorl", 2, 1.0, ["algorithm=olmorl", *shared])
    _run(sweep / "1_grpo", 2, 2.0, ["algorithm=grpo", *shared])
    _run(sweep / "10_dapo", 2, 3.0, ["algorithm=dapo", *shared])
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    runs = find_runs([sweep])
    assert [r.label for r in runs] == ["algorithm=olmorl", "algorithm=grpo", "algorithm=dapo"]  # job order
    fig = draw(runs, title="ablation")
    assert _lines(fig, "reward") == {"algorithm=olmorl": ([1, 2], [1.0, 2.0]), "algorithm=grpo": ([1, 2], [2.0, 4.0]),
                                     "algorithm=dapo": ([1, 2], [3.0, 6.0])}
    assert _lines(fig, "accuracy")["algorithm=dapo eval"] == ([0, 2], [pytest.approx(0.3), pytest.approx(0.6)])
    colours = {line.get_label(): line.get_color() for ax in fig.axes for line in ax.get_lines()}
    assert colours["algorithm=grpo"] == colours["algorithm=grpo train"] != colours["algorithm=olmorl"]
    out = tmp_path / "sweep.png"
    assert rlvr_main(["plot", str(sweep), "-o", str(out), "--title", "ablation"]) == 0
    assert _is_png(out) == (800, 1500)


def test_runs_without_overrides_are_labelled_by_folder(tmp_path):
    _run(tmp_path / "a", 1, 1.0)
    _run(tmp_path / "b", 1, 1.0)
    assert [r.label for r in find_runs([tmp_path / "a", tmp_path / "b"])] == ["a", "b"]


def test_bad_input_names_the_path(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert rlvr_main(["plot", str(tmp_path / "empty"), "-o", str(tmp_path / "x.png")]) == 2
    assert "empty: no metrics.jsonl" in capsys.readouterr().out
    _run(tmp_path / "bad", 1, 1.0)
    with open(tmp_path / "bad" / "metrics.jsonl", "a") as f:
        f.write("{not json\n")
    assert rlvr_main(["plot", str(tmp_path / "bad"), "-o", str(tmp_path / "x.png")]) == 2
    assert "metrics.jsonl: line 4 is not JSON" in capsys.readouterr().out
    assert not (tmp_path / "x.png").exists()
