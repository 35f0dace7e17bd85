"""LoRA RL-Zero beside full fine-tuning on the default task (tiny base, synthetic arithmetic).

    python examples/lora/run.py                          # full fine-tuning and LoRA rank 8, seed 0
    python examples/lora/run.py --seeds 0,1,2 -- steps=20 # overrides after -- apply to every run

Runs `rlvr train` (defaults: learner.lr for full fine-tuning) and `rlvr train model.lora.rank=8`
(model.lora.lr, LoRA's own default), one after the other, then prints one table: eval accuracy
(greedy, 200 held-out problems) before and after, the largest rollout/logprob_gap over the run
(engine vs learner after each weight sync) and minutes per run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETUPS = {"full fine-tuning": [], "LoRA rank 8": ["model.lora.rank=8"]}


def row(name: str, seed: int, run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in lines if "learner/lr" in m]
    return {"setup": name, "seed": seed, "lr": steps[-1]["learner/lr"] if steps else float("nan"),
            "before": summary["eval/accuracy_start"], "after": summary["eval/accuracy_end"],
            "gap": max((m.get("rollout/logprob_gap", 0.0) for m in steps), default=float("nan")),
            "minutes": summary["time/total_s"] / 60}


def markdown(rows: list[dict]) -> str:
    out = ["| setup | seed | lr | eval before | eval after | change (points) | max logprob gap | minutes |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['setup']} | {r['seed']} | {r['lr']:g} | {r['before']:.3f} | {r['after']:.3f} | "
                   f"{100 * (r['after'] - r['before']):+.1f} | {r['gap']:.1e} | {r['minutes']:.1f} |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0")
    p.add_argument("--out", default="")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = p.parse_args()
    out = Path(args.out or f"runs/lora_{time.strftime('%Y%m%d_%H%M%S')}").resolve()
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name, extra in SETUPS.items():
            run = out / f"{name.replace(' ', '_')}_seed{seed}"
            cmd = [sys.executable, "-m", "rlvr.cli", "train", *extra, f"seed={seed}", "progress=false",
                   f"output_dir={run}", *args.overrides]
            print("running:", " ".join(cmd), flush=True)
            proc = subprocess.run(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1"))
            if proc.returncode != 0:
                print(f"{name} seed {seed} failed (exit {proc.returncode}); see {run}", file=sys.stderr)
                return proc.returncode
            rows.append(row(name, seed, run))
    table = markdown(rows)
    print(table)
    (out / "table.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
