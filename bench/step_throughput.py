"""Throughput of the default experiment: rollout tokens/s, learner tokens/s, samples/s.

Runs `rlvr train` (the default config, a few steps, any extra overrides from the command line)
and prints the per-step figures from its metrics.jsonl, averaged over steps after the first.

    python bench/step_throughput.py                 # 6 steps of the default experiment
    python bench/step_throughput.py steps=10 rollout.prompts_per_step=32
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path


def main(overrides: list[str]) -> None:
    from rlvr.metrics import read_metrics
    from rlvr.train_app import compose, train

    if not any(o.startswith("steps=") for o in overrides):
        overrides = ["steps=6", *overrides]
    cfg = compose(["data.eval_size=20", "progress=false", "save_checkpoint=false", *overrides])
    run_dir = Path(tempfile.mkdtemp(prefix="rlvr-bench-"))
    summary = train(cfg, run_dir)
    steps = [m for m in read_metrics(run_dir / "metrics.jsonl") if "train/reward_mean" in m]
    warm = steps[1:] or steps
    samples = cfg.rollout.prompts_per_step * cfg.rollout.group_size

    def mean(key: str) -> float:
        return statistics.fmean(m[key] for m in warm if m.get(key) is not None)

    step_s = mean("time/step_s")
    print(f"default experiment, {len(steps)} steps ({len(warm)} timed), {cfg.rollout.num_engines} engine(s), "
          f"{cfg.learner.num_workers} learner worker(s), {samples} samples/step")
    print(f"{'figure':<34}{'value':>12}")
    for label, value in [
        ("rollout tokens/s (generation)", mean("rollout/tokens_per_s")),
        ("learner tokens/s (fwd+bwd+step)", mean("learner/tokens_per_s")),
        ("learner samples/s", mean("learner/samples_per_s")),
        ("end-to-end samples/s", samples / step_s),
        ("step time s", step_s),
        ("weight sync s", mean("time/sync_s")),
        ("logprob gap after sync", mean("rollout/logprob_gap")),
    ]:
        print(f"{label:<34}{value:>12.4g}")
    print(f"run dir: {run_dir}  (total {summary['time/total_s']:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
