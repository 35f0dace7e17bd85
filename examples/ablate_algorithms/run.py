"""Compare the algorithm presets on the default experiment, over seeds, with one Hydra multirun per arm.

    python examples/ablate_algorithms/run.py                                  # every preset, seed 0
    python examples/ablate_algorithms/run.py --seeds 0,1,2 \\
        --variant olmorl_mb4="algorithm=olmorl learner.mini_batches=4"      # + a variant where clipping acts
    python examples/ablate_algorithms/run.py --algorithms olmorl,grpo -- steps=20

Each arm (a preset, or a named variant: overrides of its own) runs `rlvr train -m seed=...` into
SWEEP/<arm>/; any overrides after `--` apply to every run. The table gives, per arm, the change in held-out
accuracy (points, greedy) as mean and standard deviation over seeds with each seed's value, the start and end
accuracy, mean response length over training and minutes per run; `rlvr plot` draws every run's curves
(SWEEP/plot.png). With one optimizer step per batch (`learner.mini_batches=1`, the default) the PPO ratio is 1
at the update and clipping never acts: the `mini_batches > 1` variant is the arm where the clip ranges differ.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

PRESETS = "olmorl,campo,campo_released,grpo,dapo,dr_grpo"


def run_row(run: Path) -> dict:
    """One finished run's figures, from its summary.json and metrics.jsonl."""
    summary = json.loads((run / "summary.json").read_text())
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    steps = [m for m in lines if "response/length_mean" in m]
    return {"eval_start": summary["eval/accuracy_start"], "eval_end": summary["eval/accuracy_end"],
            "length_mean": sum(m["response/length_mean"] for m in steps) / max(1, len(steps)),
            "minutes": summary["time/total_s"] / 60, "seed": _seed(run)}


def _seed(run: Path) -> int:
    for line in (run / "config.yaml").read_text().splitlines():
        if line.startswith("seed:"):
            return int(line.split(":", 1)[1])
    raise ValueError(f"{run / 'config.yaml'}: no top-level `seed:`")


def table(sweep: Path) -> list[dict]:
    """One row per arm (SWEEP/<arm>/<run>/): the accuracy change over its seeds as mean and spread."""
    rows = []
    for arm in sorted(p for p in sweep.iterdir() if p.is_dir()):
        runs = sorted((run_row(r) for r in arm.iterdir() if (r / "summary.json").exists()), key=lambda r: r["seed"])
        if not runs:
            continue
        change = [100 * (r["eval_end"] - r["eval_start"]) for r in runs]
        rows.append({"arm": arm.name, "seeds": [r["seed"] for r in runs], "change": change,
                     "change_mean": statistics.fmean(change),
                     "change_sd": statistics.stdev(change) if len(change) > 1 else 0.0,
                     "eval_start": statistics.fmean(r["eval_start"] for r in runs),
                     "eval_end": statistics.fmean(r["eval_end"] for r in runs),
                     "length_mean": statistics.fmean(r["length_mean"] for r in runs),
                     "minutes": statistics.fmean(r["minutes"] for r in runs)})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| arm | seeds | change (points) per seed | mean (sd) | eval before | eval after | "
           "mean response length | minutes per run |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per_seed = " / ".join(f"{c:+.1f}" for c in r["change"])
        out.append(f"| {r['arm']} | {','.join(map(str, r['seeds']))} | {per_seed} | {r['change_mean']:+.1f} "
                   f"({r['change_sd']:.1f}) | {r['eval_start']:.3f} | {r['eval_end']:.3f} | {r['length_mean']:.1f} "
                   f"| {r['minutes']:.1f} |")
    return "\n".join(out)


def arms(algorithms: str, variants: list[str]) -> dict[str, list[str]]:
    """{arm name: its overrides}: one arm per preset, then each `NAME=OVERRIDES` variant."""
    out = {name: [f"algorithm={name}"] for name in algorithms.split(",") if name}
    for spec in variants:
        name, sep, overrides = spec.partition("=")
        if not sep or not name or name in out:
            raise SystemExit(f"--variant {spec!r}: expected a new NAME=OVERRIDES")
        out[name] = shlex.split(overrides)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algorithms", default=PRESETS, help="comma-separated presets (conf/algorithm/)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=OVERRIDES",
                   help="an extra arm: its own overrides under a name (repeatable)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds, one run each per arm")
    p.add_argument("--sweep-dir", default="")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = p.parse_args()
    sweep = Path(args.sweep_dir or f"runs/ablate_{time.strftime('%Y%m%d_%H%M%S')}").resolve()
    code = 0
    for name, overrides in arms(args.algorithms, args.variant).items():
        cmd = [sys.executable, "-m", "rlvr.cli", "train", "-m", f"seed={args.seeds}", *overrides, "progress=false",
               f"hydra.sweep.dir={sweep / name}", "hydra.sweep.subdir=seed_${seed}", *args.overrides]
        print("running:", " ".join(cmd), flush=True)
        code = code or subprocess.run(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
    rows = table(sweep)
    print(markdown(rows))
    (sweep / "table.md").write_text(markdown(rows) + "\n")
    from rlvr.plots import main as plot_main  # `rlvr plot SWEEP -o SWEEP/plot.png`

    arm_dirs = [str(sweep / r["arm"]) for r in rows]
    plotted = plot_main([*arm_dirs, "-o", str(sweep / "plot.png"), "--title", "algorithm ablation"]) if rows else 0
    return code or plotted


if __name__ == "__main__":
    sys.exit(main())
