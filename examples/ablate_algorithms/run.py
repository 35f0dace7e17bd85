"""Compare the algorithm presets on the default tiny experiment with one Hydra multirun.

    python examples/ablate_algorithms/run.py                    # all five presets
    python examples/ablate_algorithms/run.py --algorithms olmorl,grpo -- steps=20

Runs `rlvr train -m algorithm=...` (any overrides after `--` apply to every run), then prints a
table of eval accuracy before and after, and mean response length over training, per algorithm, and
draws the runs' curves with `rlvr plot` (SWEEP/plot.png, one line per algorithm).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def table(sweep: Path) -> list[dict]:
    rows = []
    for run in sorted(p for p in sweep.iterdir() if (p / "summary.json").exists()):
        summary = json.loads((run / "summary.json").read_text())
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        steps = [m for m in lines if "response/length_mean" in m]
        name = next((ln.split(":", 1)[1].strip() for ln in (run / "config.yaml").read_text().splitlines()
                     if ln.strip().startswith("name:")), run.name)
        rows.append({
            "algorithm": name,
            "eval_start": summary["eval/accuracy_start"],
            "eval_end": summary["eval/accuracy_end"],
            "length_mean": sum(m["response/length_mean"] for m in steps) / max(1, len(steps)),
            "minutes": summary["time/total_s"] / 60,
        })
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| algorithm | eval acc. before | eval acc. after | mean response length (tokens) | minutes |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['algorithm']} | {r['eval_start']:.3f} | {r['eval_end']:.3f} | {r['length_mean']:.1f} | "
                   f"{r['minutes']:.1f} |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--algorithms", default="olmorl,campo,grpo,dapo,dr_grpo")
    p.add_argument("--sweep-dir", default="")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = p.parse_args()
    sweep = Path(args.sweep_dir or f"runs/ablate_{time.strftime('%Y%m%d_%H%M%S')}").resolve()
    cmd = [sys.executable, "-m", "rlvr.cli", "train", "-m", f"algorithm={args.algorithms}", "progress=false",
           f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}_${algorithm.name}", *args.overrides]
    print("running:", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    rows = table(sweep)
    print(markdown(rows))
    (sweep / "table.md").write_text(markdown(rows) + "\n")
    from rlvr.plots import main as plot_main  # `rlvr plot SWEEP -o SWEEP/plot.png`

    plotted = plot_main([str(sweep), "-o", str(sweep / "plot.png"), "--title", "algorithm ablation"]) if rows else 0
    return proc.returncode or plotted


if __name__ == "__main__":
    sys.exit(main())
