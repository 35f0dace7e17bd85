"""Causal-LM training on the same FSDP2 learner the RL loop uses (objective `causal_lm_objective`).

Pretraining the base, recipe stages and SFT all train through `train_causal_lm`.

Rows come pre-packed (rlvr.data.packing): position ids restart per document and a 4-D
block-causal mask keeps documents apart. The loss is summed over label tokens and divided by
the optimizer step's label-token count across all workers and micro-batches.

Every `save_every` steps a resumable checkpoint (model and AdamW shards, the step, which fixes the lr
schedule's position, the data order and position, RNG) goes to <out>/checkpoints/step_<N>/ by
rlvr/checkpoint.py's atomic protocol; with `resume` a run into the same directory continues from the
newest complete one (what a killed cached recipe build does when it is asked for again) and ends with
bitwise the weights of an uninterrupted run with the same worker count.

Rows may also differ in length (SFT without packing: one example per row): a micro-batch pads its
rows to its longest one with padding in a position run of its own and labels IGNORE_INDEX, so padding
is neither attended to nor learned.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from rlvr.checkpoint import (STATE_FILE, check_compatible, fault_point, find_latest, load_pickle, rng_state,
                             save_pickle, set_rng_state, truncate_jsonl, write_checkpoint)
from rlvr.config import LearnerConfig
from rlvr.data.packing import collate, packed_attention_mask
from rlvr.learner.batching import worker_micro_batches
from rlvr.learner.group import LearnerGroup
from rlvr.learner.objectives import CausalLMStep, causal_lm_objective
from rlvr.types import IGNORE_INDEX

log = logging.getLogger(__name__)


@dataclasses.dataclass
class CausalLMConfig:
    steps: int = 600  # optimizer steps
    batch_size: int = 32  # packed rows per optimizer step, all workers together
    save_every: int = 0  # also save a resumable checkpoint to <out>/checkpoints every N steps (0: only the final one)
    keep_last: int = 2  # resumable checkpoints kept
    resume: bool = True  # continue from the newest complete checkpoint in <out>/checkpoints when there is one
    log_every: int = 50  # log a line every N steps
    peak_tflops: float = 0.0  # per-worker peak for MFU (0: guess: 989 for an H100 bf16, 0.1 on CPU)
    seed: int = 0  # data order
    dtype: str = "float32"  # dtype the learner loads the weights in
    pad_id: int = 0  # token id put in padding (never attended to nor learned)
    # the optimiser block shared with RL: workers, lr and schedule, micro-batch size, precision
    learner: LearnerConfig = dataclasses.field(default_factory=LearnerConfig)


def pad_rows(rows: Sequence[dict], pad_id: int = 0) -> list[dict]:
    """Rows of unequal length padded to the longest: input pad_id, labels IGNORE_INDEX, positions 0.. of their own."""
    width = max(len(r["input_ids"]) for r in rows)
    out = []
    for r in rows:
        pad = width - len(r["input_ids"])
        if not pad:
            out.append(r)
            continue
        out.append({"input_ids": list(r["input_ids"]) + [pad_id] * pad,
                    "labels": list(r["labels"]) + [IGNORE_INDEX] * pad,
                    "position_ids": list(r["position_ids"]) + list(range(pad))})
    return out


def micro_batches(rows: Sequence[dict], num_workers: int, micro_batch_size: int,
                  pad_id: int = 0) -> list[list[dict[str, Any]]]:
    """Split a step's rows over workers (round-robin) and into micro-batches (padded when lengths differ)."""
    def build(part: Sequence[dict]) -> dict[str, Any]:
        batch = collate(pad_rows(part, pad_id))
        return {"input_ids": batch["input_ids"], "labels": batch["labels"], "position_ids": batch["position_ids"],
                "attention_mask": packed_attention_mask(batch["position_ids"]),
                "num_tokens": int(batch["input_ids"].numel())}

    def filler(shards: list[list[dict[str, Any]]]) -> dict[str, Any]:
        first = shards[0][0]
        return dict(first, labels=torch.full_like(first["labels"], IGNORE_INDEX), num_tokens=0)

    return worker_micro_batches([list(rows[i::num_workers]) for i in range(num_workers)], micro_batch_size, build,
                                filler)


def label_tokens(shards: list[list[dict[str, Any]]]) -> int:
    return sum(int((mb["labels"][:, 1:] != IGNORE_INDEX).sum()) for mbs in shards for mb in mbs)


# What a resume may change (rlvr/checkpoint.py:check_compatible); the rest must match the checkpoint.
RESUMABLE_KEYS = ("save_every", "keep_last", "resume", "log_every", "peak_tflops", "learner.num_workers",
                  "learner.cpus_per_worker")


@dataclasses.dataclass
class DataCursor:
    """Where the trainer is in its shuffled passes over the rows (saved with each checkpoint)."""

    rng: random.Random
    order: list[int]

    def batch(self, rows: Sequence[dict], size: int) -> list[dict]:
        out = []
        while len(out) < size:
            if not self.order:
                self.order = list(range(len(rows)))
                self.rng.shuffle(self.order)
            out.append(rows[self.order.pop()])
        return out


def _fingerprint(rows: Sequence[dict]) -> list[Any]:
    """A cheap identity of the training rows: a resume on other data is refused."""
    ends = [list(r["input_ids"][:16]) for r in list(rows[:2]) + list(rows[-2:])]
    return [len(rows), sum(len(r["input_ids"]) for r in rows), ends]


def _save(out: Path, step: int, group: LearnerGroup, cursor: DataCursor, cfg: CausalLMConfig,
          rows: Sequence[dict]) -> Path:
    state = {"steps_done": step, "rng": cursor.rng.getstate(), "order": list(cursor.order), "driver_rng": rng_state(),
             "config": dataclasses.asdict(cfg), "rows": _fingerprint(rows)}

    def write(tmp: Path) -> None:
        group.save_state(str(tmp / "learner"))
        fault_point(step)  # testing only
        save_pickle(tmp / STATE_FILE, state)
        (tmp / "config.json").write_text(json.dumps(state["config"], indent=2))

    return write_checkpoint(out / "checkpoints", step, write, cfg.keep_last)


def _resume(out: Path, group: LearnerGroup, cfg: CausalLMConfig, rows: Sequence[dict]) -> tuple[int, DataCursor]:
    """(steps done, data cursor): from the newest complete checkpoint under <out>/checkpoints, else the start."""
    cursor = DataCursor(random.Random(cfg.seed), [])
    found = find_latest(out / "checkpoints") if cfg.resume else None
    if found is None:
        return 0, cursor
    state = load_pickle(found / STATE_FILE)
    check_compatible(state["config"], dataclasses.asdict(cfg), found, RESUMABLE_KEYS)
    if state["rows"] != _fingerprint(rows):
        raise ValueError(f"cannot resume from {found}: the training rows differ from the ones it was saved with "
                         f"(rows, tokens, first ids: {state['rows'][:2]} -> {_fingerprint(rows)[:2]})")
    group.load_state(str(found / "learner"))
    cursor.rng.setstate(state["rng"])
    cursor.order = list(state["order"])
    set_rng_state(state["driver_rng"])
    log.info("causal LM: resumed from %s at step %d", found, state["steps_done"])
    return int(state["steps_done"]), cursor


def train_causal_lm(init_path: str, rows: Sequence[dict], cfg: CausalLMConfig, out_dir: str | Path,
                    on_log: Callable[[dict[str, Any]], None] | None = None, tokenizer_dir: str | None = None) -> str:
    """Train from `init_path` on packed `rows`; write the final HF checkpoint to `out_dir`. Returns its path."""
    cfg.learner.validate()
    if len(rows) < cfg.batch_size:
        raise ValueError(f"causal LM: {len(rows)} packed rows, fewer than one batch ({cfg.batch_size})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    opt = cfg.learner
    group = LearnerGroup(init_path, opt, cfg.seed, cfg.dtype, total_steps=cfg.steps)
    peak = cfg.peak_tflops or (989.0 if torch.cuda.is_available() else 0.1)
    started = time.time()
    log_path = out / "train_log.jsonl"
    try:
        first, cursor = _resume(out, group, cfg, rows)
        if first:
            truncate_jsonl(log_path, first)  # lines a killed run logged after its checkpoint are logged again
        with log_path.open("a" if first else "w") as logf:
            for step in range(first, cfg.steps):
                batch = cursor.batch(rows, cfg.batch_size)
                shards = micro_batches(batch, opt.num_workers, opt.micro_batch_size, cfg.pad_id)
                stats = group.train_step(shards, causal_lm_objective, CausalLMStep(global_tokens=label_tokens(shards)))
                if (step + 1) % cfg.log_every == 0 or step == 0 or step + 1 == cfg.steps:
                    tps = stats["input_tokens"] / max(1e-9, stats["seconds"])
                    line = {"step": step + 1, "loss": stats["loss_sum"] / max(1, stats["label_tokens"]),
                            "lr": stats["lr"], "tokens_per_s": tps,
                            "mfu": 6.0 * group.num_parameters * tps / (peak * 1e12 * opt.num_workers),
                            "elapsed_s": time.time() - started}
                    logf.write(json.dumps(line) + "\n")
                    logf.flush()
                    log.info("causal-lm step %d loss %.4f tokens/s %.0f", step + 1, line["loss"], tps)
                    if on_log is not None:
                        on_log(line)
                if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
                    _save(out, step + 1, group, cursor, cfg, rows)
        return group.save(str(out / "final"), tokenizer_dir or init_path)
    finally:
        group.shutdown()
