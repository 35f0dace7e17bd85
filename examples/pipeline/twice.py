"""Reproducibility of the whole pipeline at its real size: two pipelines, one config, compared stage by stage.

    python examples/pipeline/twice.py                         # `rlvr pipeline fresh=true` twice, then compare
    python examples/pipeline/twice.py -- rl.seed=1            # overrides for both runs (after --)
    python examples/pipeline/twice.py --compare DIR_A DIR_B   # compare two pipeline output directories

With fresh=true each run builds its own base and midtrained model inside its output directory. Compared, from
each run's pipeline_summary.json: the base and midtrained checkpoints (model.safetensors, bitwise), their
train_log.jsonl and both RL-Zero runs' metrics.jsonl, line by line on every key that is not a wall-clock figure.
A pipeline that reused a cached stage compares the same way (its summary names the cached checkpoint). Prints
each difference, or that the two are identical; exits 1 when they differ. tests/recipes/test_recipe_pipeline.py
does the same on a tiny config.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TIMING = ("time", "tokens_per_s", "samples_per_s", "mfu", "elapsed_s", "seconds")  # the keys allowed to differ
STAGES = ("base", "midtrained")
RUNS = ("base", "midtrained")


def untimed_lines(path: Path) -> list[dict]:
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [{k: v for k, v in m.items() if not any(t in k for t in TIMING)} for m in lines]


def _first_difference(a: list[dict], b: list[dict]) -> str:
    if len(a) != len(b):
        return f"{len(a)} lines against {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            keys = sorted(k for k in x.keys() | y.keys() if x.get(k) != y.get(k))
            return f"line {i + 1} differs in {', '.join(keys)}"
    return ""


def compare(a: Path, b: Path) -> list[str]:
    """The differences between two pipeline output directories (empty: identical apart from timings)."""
    sa, sb = (json.loads((d / "pipeline_summary.json").read_text()) for d in (a, b))
    out = []
    for stage in STAGES:
        ca, cb = Path(sa[stage]["checkpoint"]), Path(sb[stage]["checkpoint"])
        if (ca / "model.safetensors").read_bytes() != (cb / "model.safetensors").read_bytes():
            out.append(f"{stage}: checkpoints differ ({ca} against {cb})")
        diff = _first_difference(untimed_lines(ca.parent / "train_log.jsonl"), untimed_lines(cb.parent / "train_log.jsonl"))
        if diff:
            out.append(f"{stage}: train_log.jsonl {diff}")
    for run in RUNS:
        ra, rb = Path(sa["rl_zero"][run]["run_dir"]), Path(sb["rl_zero"][run]["run_dir"])
        diff = _first_difference(untimed_lines(ra / "metrics.jsonl"), untimed_lines(rb / "metrics.jsonl"))
        if diff:
            out.append(f"RL-Zero from {run}: metrics.jsonl {diff}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--compare", nargs=2, metavar="DIR", help="compare two pipeline output directories, run nothing")
    p.add_argument("--out", default="", help="where the two runs go (a/ and b/); default runs/pipeline_twice_<time>")
    p.add_argument("overrides", nargs="*", help="`rlvr pipeline` overrides for both runs (after --)")
    args = p.parse_args()
    if args.compare:
        a, b = (Path(d).resolve() for d in args.compare)
    else:
        root = Path(args.out or f"runs/pipeline_twice_{time.strftime('%Y%m%d_%H%M%S')}").resolve()
        a, b = root / "a", root / "b"
        for out in (a, b):
            cmd = [sys.executable, "-m", "rlvr.cli", "pipeline", "fresh=true", *args.overrides, f"output_dir={out}"]
            print("running:", " ".join(cmd), flush=True)
            code = subprocess.run(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
            if code:
                return code
    differences = compare(a, b)
    for line in differences:
        print(line)
    if not differences:
        print(f"identical apart from timings: {a} and {b} (checkpoints bitwise, train logs, RL-Zero metrics)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
