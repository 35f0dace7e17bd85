"""The pipeline's RL-Zero runs over seeds: one table of each start's change as mean and spread.

    python examples/pipeline/seeds.py                              # rl.seed=0,1,2
    python examples/pipeline/seeds.py --seeds 0,1 -- rl.steps=40   # overrides for every pipeline after --
    python examples/pipeline/seeds.py --sweep-dir DIR --no-run     # the table of pipelines already run

Runs `rlvr pipeline -m rl.seed=...`: one pipeline per seed, whose base and midtrained stages are cached by
their config, so they are built once and every seed starts RL-Zero from the same two checkpoints. Then reads
each job's pipeline_summary.json and prints, for RL-Zero from the base and from the midtrained checkpoint,
the stage's own eval, the RL start, the end per seed and the change in points as mean (sd). Writes
SWEEP/table.md and SWEEP/seeds_summary.json.
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

STARTS = {"base": "RL-Zero from base", "midtrained": "RL-Zero from midtrained"}


def _seed(summary: dict, path: Path) -> int:
    for override in summary["rl_overrides"]:
        key, _, value = override.partition("=")
        if key == "seed":
            return int(value)
    raise ValueError(f"{path}: rl_overrides has no seed=N (run with rl.seed=...)")


def read_summaries(sweep: Path) -> list[dict]:
    """Every finished pipeline under SWEEP (its pipeline_summary.json), ordered by RL seed."""
    out = []
    for path in sorted(sweep.rglob("pipeline_summary.json")):
        summary = json.loads(path.read_text())
        out.append({**summary, "seed": _seed(summary, path)})
    return sorted(out, key=lambda s: s["seed"])


def table(summaries: list[dict]) -> list[dict]:
    """One row per start (base, midtrained): stage eval, RL start and end per seed, change mean (sd) in points."""
    rows = []
    for start, name in STARTS.items():
        runs = [(s["seed"], s["rl_zero"][start]) for s in summaries]
        change = [100 * (r["end"] - r["start"]) for _, r in runs]
        rows.append({"run": name, "seeds": [seed for seed, _ in runs],
                     "stage_eval": statistics.fmean(s[start]["stage_eval"] for s in summaries),
                     "start": statistics.fmean(r["start"] for _, r in runs), "end": [r["end"] for _, r in runs],
                     "change": change, "change_mean": statistics.fmean(change),
                     "change_sd": statistics.stdev(change) if len(change) > 1 else 0.0})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| run | seeds | stage eval | RL start | RL end per seed | change (points) per seed | mean (sd) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        ends = " / ".join(f"{e:.3f}" for e in r["end"])
        per_seed = " / ".join(f"{c:+.1f}" for c in r["change"])
        out.append(f"| {r['run']} | {','.join(map(str, r['seeds']))} | {r['stage_eval']:.3f} | {r['start']:.3f} "
                   f"| {ends} | {per_seed} | {r['change_mean']:+.1f} ({r['change_sd']:.1f}) |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated RL seeds, one pipeline each")
    p.add_argument("--sweep-dir", default="")
    p.add_argument("--no-run", action="store_true", help="only read the pipelines already in --sweep-dir")
    p.add_argument("overrides", nargs="*", help="extra `rlvr pipeline` overrides for every seed (after --)")
    args = p.parse_args()
    sweep = Path(args.sweep_dir or f"runs/pipeline_seeds_{time.strftime('%Y%m%d_%H%M%S')}").resolve()
    code = 0
    if not args.no_run:
        cmd = [sys.executable, "-m", "rlvr.cli", "pipeline", "-m", f"rl.seed={args.seeds}",
               f"hydra.sweep.dir={sweep}", *args.overrides]
        print("running:", " ".join(cmd), flush=True)
        code = subprocess.run(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
    summaries = read_summaries(sweep)
    if not summaries:
        print(f"no finished pipelines in {sweep}")
        return code or 1
    rows = table(summaries)
    text = markdown(rows)
    print(text)
    (sweep / "table.md").write_text(text + "\n")
    (sweep / "seeds_summary.json").write_text(json.dumps({"rows": rows, "pipelines": summaries}, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
