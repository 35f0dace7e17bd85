"""CAMPO vs OlmoRL on the long-response task (datasets/multistep.py), seeds 0, 1 and 2.

    python examples/long_response/run.py                          # 2 presets x 3 seeds, the experiment's steps
    python examples/long_response/run.py --seeds 0 -- steps=4     # a quick check (overrides after --)
    python examples/long_response/run.py --sweep-dir DIR --no-run # the table and plots of runs already made

One Hydra multirun of `rlvr train` over `+experiment=long_response` (OlmoRL, one 448-token budget) and
`+experiment=long_response_campo` (CAMPO: repetition penalty, budgets 256 -> 352 -> 448) and the seeds. Then, per
run and step: the loop rate and the mean loop fraction f(o) from the step's responses (rollouts/step_N.jsonl.gz,
read with the repetition detector the trainer uses, rlvr/algorithms/repetition.py, on each response's body), and
the truncation rate, mean response length and train accuracy from metrics.jsonl; eval accuracy before and after
from summary.json. Writes SWEEP/table.md, SWEEP/summary.json, SWEEP/long_response.png (those four over training,
mean over seeds per preset) and SWEEP/plot.png (`rlvr plot`'s standard panels, one line per run).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rlvr.algorithms.repetition import loop_fraction
from rlvr.metrics import read_metrics
from rlvr.rollout.vllm_engine import stop_token_count
from rlvr.rollout_log import read_rollouts, rollout_path

EXPERIMENTS = {"olmorl": "long_response", "campo": "long_response_campo"}
LOOP_MIN_FRACTION = 0.1  # a response "loops" when its trailing loop covers at least this share of it
MIN_REPEATS = 2  # the detector's setting in conf/algorithm/campo.yaml
END_STEPS = 5  # "end" is the mean of the last this many steps (all in the final 448-token stage)
# (column, per-step key, how the table prints it)
SERIES = [("loop rate", "loop_rate", "{:.3f}"), ("mean f(o)", "loop_fraction", "{:.3f}"),
          ("truncation rate", "truncation_rate", "{:.3f}"), ("response length", "length", "{:.0f}"),
          ("train accuracy", "accuracy", "{:.3f}")]


def body_ids(sample: dict[str, Any], eos_id: int, decode: Any) -> list[int]:
    """What the trainer's detector reads (rlvr.types.Sample.body_ids): the response without the tokens of a
    matched stop string. A response that ended on end-of-text keeps it (it did not loop to the end)."""
    ids = list(sample["response_ids"])
    if sample["finish_reason"] == "stop" and ids and ids[-1] != eos_id:
        ids = ids[: len(ids) - stop_token_count(ids, sample["response"], decode)]
    return ids


def step_series(run: Path, tokenizer: Any) -> list[dict[str, float]]:
    """One dict per RL step of `run`: loop rate, mean f(o), truncation rate, length, train accuracy, budget."""
    lines = [m for m in read_metrics(run / "metrics.jsonl") if "rollout/truncation_rate" in m]
    out = []
    for m in lines:
        step = int(m["step"])
        if not rollout_path(run, step).exists():
            raise FileNotFoundError(f"{rollout_path(run, step)} is missing: run with rollout_log=true")
        samples = [s for g in read_rollouts(run, step) for s in g["samples"]]
        fractions = [loop_fraction(body_ids(s, tokenizer.eos_token_id, tokenizer.decode), MIN_REPEATS)
                     for s in samples]
        out.append({"step": step, "loop_rate": sum(f >= LOOP_MIN_FRACTION for f in fractions) / len(fractions),
                    "loop_fraction": statistics.fmean(fractions),
                    "truncation_rate": m["rollout/truncation_rate"], "length": m["response/length_mean"],
                    "accuracy": m["train/accuracy"], "max_tokens": m["rollout/max_tokens"]})
    return out


def run_summary(run: Path) -> dict[str, Any]:
    """A run's preset, seed, per-step series, start / end / mean of each series, eval accuracy and seconds."""
    from transformers import AutoTokenizer

    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    summary = json.loads((run / "summary.json").read_text())
    series = step_series(run, AutoTokenizer.from_pretrained(summary["model"]))
    if not series:
        raise ValueError(f"{run}: metrics.jsonl has no step lines")
    row: dict[str, Any] = {"algorithm": config["algorithm"]["name"], "seed": config["seed"], "run": str(run),
                           "series": series, "eval_start": summary["eval/accuracy_start"],
                           "eval_end": summary["eval/accuracy_end"], "seconds": summary["time/total_s"]}
    steps_s = [m["time/step_s"] for m in read_metrics(run / "metrics.jsonl") if "time/step_s" in m]
    row["step_s"] = statistics.fmean(steps_s) if steps_s else float("nan")
    for _, key, _ in SERIES:
        values = [s[key] for s in series]
        row[key] = {"start": values[0], "end": statistics.fmean(values[-END_STEPS:]), "mean": statistics.fmean(values)}
    return row


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per preset: the mean over seeds of every start / end / mean figure, and the per-seed values."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted({r["algorithm"] for r in rows}):
        runs = sorted((r for r in rows if r["algorithm"] == name), key=lambda r: r["seed"])
        agg: dict[str, Any] = {"seeds": [r["seed"] for r in runs]}
        for key in ["eval_start", "eval_end", "step_s", "seconds"]:
            agg[key] = {"mean": statistics.fmean(r[key] for r in runs), "per_seed": [r[key] for r in runs]}
        for _, key, _ in SERIES:
            agg[key] = {part: {"mean": statistics.fmean(r[key][part] for r in runs),
                               "per_seed": [r[key][part] for r in runs]} for part in ("start", "end", "mean")}
        out[name] = agg
    return out


def verdict(agg: dict[str, dict[str, Any]]) -> str:
    """The stated comparison, checked on the means over seeds (end of training, and eval accuracy after)."""
    if not {"campo", "olmorl"} <= agg.keys():
        return "comparison not checked: needs both campo and olmorl runs"
    c, o = agg["campo"], agg["olmorl"]
    checks = {
        "loop rate at the end": c["loop_rate"]["end"]["mean"] < o["loop_rate"]["end"]["mean"],
        "truncation rate at the end": c["truncation_rate"]["end"]["mean"] < o["truncation_rate"]["end"]["mean"],
        "eval accuracy after (equal or better)": c["eval_end"]["mean"] >= o["eval_end"]["mean"],
    }
    held = all(checks.values())
    parts = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in checks.items())
    return f"CAMPO's loop and truncation rates below OlmoRL's at equal or better accuracy: {'HOLDS' if held else 'DOES NOT HOLD'} ({parts})"


def _cell(fig: dict[str, Any], fmt: str) -> str:
    per_seed = " / ".join(fmt.format(v) for v in fig["per_seed"])
    return fmt.format(fig["mean"]) + (f" ({per_seed})" if len(fig["per_seed"]) > 1 else "")


def markdown(agg: dict[str, dict[str, Any]]) -> str:
    """Two tables: each series at the start, end and over training; eval accuracy and time. Mean (per seed)."""
    out = [f"Start: step 1 (the base's samples); end: mean of the last {END_STEPS} steps; over training: mean of "
           "all steps. Mean over seeds (per seed in brackets).", "",
           "| preset | metric | start | end | over training |", "|---|---|---|---|---|"]
    for name, agg_row in agg.items():
        for label, key, fmt in SERIES:
            out.append(f"| {name} | {label} | " + " | ".join(_cell(agg_row[key][p], fmt) for p in ("start", "end", "mean"))
                       + " |")
    out += ["", "| preset | seeds | eval accuracy before | eval accuracy after | seconds per step | minutes per run |",
            "|---|---|---|---|---|---|"]
    for name, a in agg.items():
        minutes = {"mean": a["seconds"]["mean"] / 60, "per_seed": [s / 60 for s in a["seconds"]["per_seed"]]}
        out.append(f"| {name} | {','.join(map(str, a['seeds']))} | {_cell(a['eval_start'], '{:.3f}')} | "
                   f"{_cell(a['eval_end'], '{:.3f}')} | {_cell(a['step_s'], '{:.1f}')} | {_cell(minutes, '{:.1f}')} |")
    return "\n".join(out + ["", verdict(agg)])


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Loop rate, mean f(o), truncation, length, train accuracy and the budget over training: per preset the
    mean over seeds (thick) and each seed (thin)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = SERIES + [("length budget (max_tokens)", "max_tokens", "")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ci, name in enumerate(sorted({r["algorithm"] for r in rows})):
        runs = [r for r in rows if r["algorithm"] == name]
        for ax, (label, key, _) in zip(axes.flat, panels):
            for r in runs:
                ax.plot([s["step"] for s in r["series"]], [s[key] for s in r["series"]], color=colours[ci],
                        alpha=0.3, linewidth=0.8)
            steps = sorted({s["step"] for r in runs for s in r["series"]})
            means = [statistics.fmean(s[key] for r in runs for s in r["series"] if s["step"] == step) for step in steps]
            ax.plot(steps, means, color=colours[ci], linewidth=2, label=f"{name} (mean of {len(runs)})")
            ax.set_title(label)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="x-small")
    fig.suptitle("long-response task: CAMPO vs OlmoRL")
    fig.savefig(path, dpi=100)


def find_runs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / "summary.json").exists() and (p / "metrics.jsonl").exists())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--algorithms", default="olmorl,campo", help=f"presets among {', '.join(EXPERIMENTS)}")
    p.add_argument("--sweep-dir", default="")
    p.add_argument("--no-run", action="store_true", help="only read the runs already in --sweep-dir")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = p.parse_args()
    sweep = Path(args.sweep_dir or f"runs/long_response_{time.strftime('%Y%m%d_%H%M%S')}").resolve()
    code = 0
    if not args.no_run:
        experiments = ",".join(EXPERIMENTS[a] for a in args.algorithms.split(","))
        cmd = [sys.executable, "-m", "rlvr.cli", "train", "-m", f"+experiment={experiments}", f"seed={args.seeds}",
               "progress=false", f"hydra.sweep.dir={sweep}",
               "hydra.sweep.subdir=${hydra.job.num}_${algorithm.name}_seed${seed}", *args.overrides]
        print("running:", " ".join(cmd), flush=True)
        code = subprocess.run(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
    rows = [run_summary(run) for run in find_runs(sweep)]
    if not rows:
        print(f"no finished runs in {sweep}")
        return code or 1
    agg = aggregate(rows)
    text = markdown(agg)
    print(text)
    (sweep / "table.md").write_text(text + "\n")
    (sweep / "summary.json").write_text(json.dumps({"aggregate": agg, "runs": rows}, indent=2))
    plot(rows, sweep / "long_response.png")
    from rlvr.plots import main as plot_main  # `rlvr plot SWEEP -o SWEEP/plot.png`

    return code or plot_main([str(sweep), "-o", str(sweep / "plot.png"), "--title", "long-response task"])


if __name__ == "__main__":
    sys.exit(main())
