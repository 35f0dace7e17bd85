"""`rlvr plot RUN_DIR [RUN_DIR ...] -o plot.png`: the training curves of one or more runs, one line per run.

A RUN_DIR is a run directory (it holds metrics.jsonl) or a Hydra multirun directory (its job folders do);
runs are read with rlvr.metrics.read_metrics. Runs are labelled by the Hydra overrides that differ between
them (each job's .hydra/overrides.yaml), so an ablation over `algorithm=` reads `algorithm=grpo`, ...;
a run without overrides is labelled by its folder name.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from rlvr.metrics import read_metrics

# (panel title, [(metrics key, series name within the panel)]): what the figure shows, in order.
PANELS: list[tuple[str, list[tuple[str, str]]]] = [
    ("reward", [("train/reward_mean", "")]),
    ("accuracy", [("train/accuracy", "train"), ("eval/accuracy", "eval")]),
    ("response length (tokens)", [("response/length_mean", "")]),
    ("truncation rate", [("rollout/truncation_rate", "")]),
    ("clip fraction", [("loss/clip_frac", "")]),
    ("truncated importance sampling", [("loss/tis_weight_mean", "weight mean"), ("loss/tis_clipped_frac", "clipped frac")]),
]
STYLES = ["-", "--", ":"]  # one per series of a panel; colour is the run


@dataclasses.dataclass
class Run:
    label: str
    path: Path
    lines: list[dict[str, Any]]
    overrides: list[str]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of `key` over the run; lines without it (or with null) are skipped."""
        points = [(int(m["step"]), float(m[key])) for m in self.lines if m.get(key) is not None and "step" in m]
        return [s for s, _ in points], [v for _, v in points]


def _overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return []
    import yaml

    return [str(o) for o in (yaml.safe_load(path.read_text()) or [])]


def find_runs(paths: list[str | Path]) -> list[Run]:
    """The runs under `paths` (a run dir, or a multirun dir whose job folders are runs), labelled."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "metrics.jsonl").exists():
            found.append(path)
            continue
        jobs = sorted((p for p in path.iterdir() if (p / "metrics.jsonl").exists()), key=_job_order) \
            if path.is_dir() else []
        if not jobs:
            raise FileNotFoundError(f"{path}: no metrics.jsonl in it or in its job folders (is it a run directory?)")
        found.extend(jobs)
    runs = [Run("", p, read_metrics(p / "metrics.jsonl"), _overrides(p)) for p in found]
    # label by what differs: the overrides every run shares say nothing about which line is which
    shared = set.intersection(*(set(r.overrides) for r in runs)) if len(runs) > 1 else set()
    for run in runs:
        own = [o for o in run.overrides if o not in shared]
        run.label = " ".join(own) if own else run.path.name
    return runs


def _job_order(path: Path) -> tuple[int, str]:
    """Hydra job folders start with the job number (0_..., 10_...): number order, not string order."""
    head = path.name.split("_", 1)[0]
    return (int(head), path.name) if head.isdigit() else (1 << 30, path.name)


def draw(runs: list[Run], title: str = "") -> Any:
    """The figure (matplotlib, Agg): one panel per PANELS entry, one colour per run, one line style per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (name, series) in zip(axes.flat, PANELS):
        for ri, run in enumerate(runs):
            for si, (key, part) in enumerate(series):
                steps, values = run.series(key)
                if steps:
                    label = f"{run.label} {part}".strip() if len(series) > 1 else run.label
                    ax.plot(steps, values, STYLES[si % len(STYLES)], color=colours[ri % len(colours)], label=label,
                            marker="o" if len(steps) < 4 else None)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return fig


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="rlvr plot", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="run directories or multirun directories")
    p.add_argument("-o", "--output", default="plot.png", help="the PNG to write (default: plot.png)")
    p.add_argument("--title", default="", help="figure title")
    args = p.parse_args(argv)
    try:
        runs = find_runs(args.runs)
    except (FileNotFoundError, ValueError) as exc:
        print(f"rlvr plot: {exc}")
        return 2
    fig = draw(runs, args.title)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=100)
    print(f"{args.output}: {len(runs)} run(s): " + ", ".join(r.label for r in runs))
    return 0
