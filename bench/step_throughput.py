"""Throughput of the default experiment: rollout tokens/s, learner tokens/s, samples/s.

Runs `rlvr train` (the default config, a few steps, any extra overrides from the command line)
and prints the per-step figures from its metrics.jsonl, averaged over steps after the first.
`--compare` runs the in-flight update modes against the lookahead depths side by side (one short run
each, same overrides) and prints one table: samples/s, step seconds, version lag, switched samples.

    python bench/step_throughput.py                 # 6 steps of the default experiment
    python bench/step_throughput.py steps=10 rollout.prompts_per_step=32
    python bench/step_throughput.py --compare       # inflight off|keep|resubmit x async_steps 1|2, 5 steps each
    python bench/step_throughput.py --compare rollout.weight_sync=collective
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

INFLIGHT = ("off", "keep", "resubmit")
LOOKAHEAD = (1, 2)
COMPARE_STEPS = 5  # per setting in --compare: the first is not timed (start-up, first sync)


def run(overrides: list[str]) -> tuple[Any, list[dict[str, Any]], dict[str, Any], Path]:
    """One short `rlvr train`: (config, step lines, summary, run dir)."""
    from rlvr.metrics import read_metrics
    from rlvr.train_app import compose, train

    if not any(o.startswith("steps=") for o in overrides):
        overrides = ["steps=6", *overrides]
    cfg = compose(["data.eval_size=20", "progress=false", "save_checkpoint=false", *overrides])
    run_dir = Path(tempfile.mkdtemp(prefix="rlvr-bench-"))
    summary = train(cfg, run_dir)
    steps = [m for m in read_metrics(run_dir / "metrics.jsonl") if "train/reward_mean" in m]
    return cfg, steps, summary, run_dir


def _mean(lines: list[dict[str, Any]], key: str) -> float:
    values = [m[key] for m in lines if m.get(key) is not None]
    return statistics.fmean(values) if values else float("nan")


def main(overrides: list[str]) -> None:
    cfg, steps, summary, run_dir = run(overrides)
    warm = steps[1:] or steps
    samples = cfg.rollout.prompts_per_step * cfg.rollout.group_size
    step_s = _mean(warm, "time/step_s")
    print(f"default experiment, {len(steps)} steps ({len(warm)} timed), {cfg.rollout.num_engines} engine(s), "
          f"{cfg.learner.num_workers} learner worker(s), {samples} samples/step")
    print(f"{'figure':<34}{'value':>12}")
    for label, value in [
        ("rollout tokens/s (generation)", _mean(warm, "rollout/tokens_per_s")),
        ("learner tokens/s (fwd+bwd+step)", _mean(warm, "learner/tokens_per_s")),
        ("learner samples/s", _mean(warm, "learner/samples_per_s")),
        ("end-to-end samples/s", samples / step_s),
        ("step time s", step_s),
        ("weight sync s", _mean(warm, "time/sync_s")),
        ("logprob gap after sync", _mean(warm, "rollout/logprob_gap")),
    ]:
        print(f"{label:<34}{value:>12.4g}")
    print(f"run dir: {run_dir}  (total {summary['time/total_s']:.0f} s)")


def compare(overrides: list[str]) -> None:
    """Every (inflight_updates, async_steps) setting as one short run; one table."""
    if not any(o.startswith("steps=") for o in overrides):
        overrides = [f"steps={COMPARE_STEPS}", *overrides]
    rows = []
    started = time.time()
    for mode in INFLIGHT:
        for k in LOOKAHEAD:
            cfg, steps, summary, _ = run([*overrides, f"rollout.inflight_updates={mode}", f"rollout.async_steps={k}"])
            warm = steps[1:] or steps
            samples = cfg.rollout.prompts_per_step * cfg.rollout.group_size
            step_s = _mean(warm, "time/step_s")
            rows.append((mode, k, samples / step_s, step_s, _mean(warm, "rollout/version_lag_max"),
                         _mean(warm, "rollout/switched_frac") if mode != "off" else 0.0,
                         max(m.get("rollout/stale_dropped", 0) for m in steps), _mean(warm, "rollout/logprob_gap"),
                         summary["time/total_s"]))
    print(f"in-flight updates x lookahead: {len(steps)} steps each ({len(warm)} timed), "
          f"{cfg.rollout.num_engines} engine(s), {cfg.learner.num_workers} learner worker(s), {samples} samples/step, "
          f"weight_sync={cfg.rollout.weight_sync}; {time.time() - started:.0f} s in all")
    print("| inflight_updates | async_steps | samples/s | step s | version lag max | switched frac | stale dropped "
          "| logprob gap | run s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, k, sps, step_s, lag, switched, stale, gap, total in rows:
        print(f"| {mode} | {k} | {sps:.1f} | {step_s:.2f} | {lag:.2f} | {switched:.2f} | {stale} | {gap:.1e} "
              f"| {total:.0f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--compare" in args:
        compare([a for a in args if a != "--compare"])
    else:
        main(args)
