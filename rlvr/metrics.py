"""Run outputs: the metrics line of an RL step (`step_metrics`), metrics.jsonl and TensorBoard events."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rlvr.algorithms.sampling import zero_std_mask

if TYPE_CHECKING:
    from rlvr.rewards import StepBatch


def _mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))


def step_metrics(step: int, batch: StepBatch, learner: dict[str, float], rollout: dict[str, float], *,
                 learn_s: float, sync_s: float, stale_dropped: int, version: int, stage: tuple[int, int],
                 next_stage: tuple[int, int] | None, kl_ref: bool, repetition: bool) -> dict[str, Any]:
    """The metrics.jsonl line of RL step `step` (1-based), before the probe's `rollout/logprob_gap`.

    `learner`: the summed stats of the step's train_step calls (per-token sums become means here);
    `rollout`: generated tokens, generation seconds and sampling tries; `stage`: (index, max_tokens) of
    the length stage the step ran in; `next_stage`: the stage it moved to, when it moved.
    """
    samples = batch.all_samples
    lengths = [len(s.response_ids) for s in samples]
    rewards = [r for g in batch.scored for r in g.rewards]
    group_ids = [gi for gi, g in enumerate(batch.scored) for _ in g.rewards]
    zero_std = zero_std_mask(torch.tensor(rewards, dtype=torch.float64), torch.tensor(group_ids, dtype=torch.long))
    tokens = max(1.0, learner.get("tokens", 0.0))
    clip_low, clip_high = learner.get("clip_low", 0.0), learner.get("clip_high", 0.0)
    line: dict[str, Any] = {
        "step": step,
        "train/reward_mean": _mean(rewards),
        "train/accuracy": _mean([float(c) for g in batch.scored for c in g.correct]),
        "train/zero_std_frac": float(zero_std.sum()) / max(1, len(batch.scored)),
        "train/groups": len(batch.kept),
        "train/verifier_errors": sum(e is not None for g in batch.scored for e in g.errors),
        "rollout/tokens_per_s": rollout["tokens"] / max(1e-9, rollout["seconds"]),
        "rollout/truncation_rate": batch.truncation_rate,
        "rollout/stale_dropped": stale_dropped,
        "rollout/sampling_tries": rollout["tries"],
        "learner/tokens_per_s": learner.get("input_tokens", 0.0) / max(1e-9, learn_s),
        "learner/samples_per_s": len(batch.samples) / max(1e-9, learn_s),
        "loss/clip_frac": (clip_low + clip_high) / tokens,
        "loss/clip_low_frac": clip_low / tokens,
        "loss/clip_high_frac": clip_high / tokens,
        "loss/tis_weight_mean": learner.get("tis_weight", tokens) / tokens,
        "loss/tis_clipped_frac": learner.get("tis_clipped", 0.0) / tokens,
        "loss/entropy": learner.get("entropy", 0.0) / tokens,
        "loss/approx_kl": learner.get("approx_kl_old", 0.0) / tokens,
        "loss/grad_norm": learner.get("grad_norm", 0.0),
        "learner/lr": learner.get("lr", 0.0),
        "response/length_mean": _mean(lengths),
        "response/length_max": max(lengths, default=0),
        "response/length_min": min(lengths, default=0),
        "algo/stage": stage[0],
        "algo/max_tokens": stage[1],
        # what the engines were actually asked for (dispatch runs ahead by async_steps)
        "rollout/max_tokens": max((g.group.request.max_tokens for g in batch.scored), default=0),
        "time/sync_s": sync_s,
        "policy/version": version,
    }
    if kl_ref:
        line["loss/kl_ref"] = learner.get("kl_ref", 0.0) / tokens
    if repetition:
        line["reward/repetition_penalty_mean"] = _mean([p for g in batch.scored for p in g.repetition_penalty])
    if next_stage is not None:
        line["algo/stage_changed_to"], line["algo/next_max_tokens"] = next_stage
    return line


class MetricsLogger:
    def __init__(self, run_dir: str | Path, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))

    def log(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._file.write(json.dumps(clean, sort_keys=False) + "\n")
        self._file.flush()
        if self._tb is not None:
            step = int(record.get("step", 0))
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)
            self._tb.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
