"""What every stage runner shares: the run directory's recipe.yaml and summary.json, the learner settings,
packed rows, and the stage eval. The runners (stage.run_stage, sft_stage.run_sft,
microanneal.run_microanneal) take a resolved start checkpoint and an output directory, and differ
only in their data and in what they measure.
"""
from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

from rlvr.data.packing import pack_documents
from rlvr.learner.causal_lm import CausalLMConfig, train_causal_lm
from rlvr.placement import init_ray
from rlvr.recipes.config import RecipeConfig, StageEvalConfig, to_yaml
from rlvr.recipes.evaluate import eval_checkpoint
from rlvr.types import IGNORE_INDEX


def begin(cfg: RecipeConfig, out: Path) -> float:
    """Create the run directory and write the recipe that runs into it; returns the start time."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(to_yaml(cfg))
    return time.time()


def finish(summary: dict[str, Any], out: Path, started: float) -> dict[str, Any]:
    """Stamp the wall-clock time and write summary.json; returns the summary."""
    summary["seconds"] = round(time.time() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def causal_lm_settings(cfg: RecipeConfig, tokenizer: Any, steps: int) -> CausalLMConfig:
    """The causal-LM trainer's settings for `steps` steps of this recipe (warm-up capped below the run's length)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    learner = dataclasses.replace(cfg.learner, warmup_steps=min(cfg.learner.warmup_steps, max(0, steps - 1)))
    t = cfg.train
    return CausalLMConfig(steps=steps, batch_size=t.batch_size, save_every=t.save_every, keep_last=t.keep_last,
                          resume=t.resume, log_every=t.log_every, peak_tflops=t.peak_tflops, seed=t.seed, dtype=cfg.model.dtype, pad_id=int(pad or 0),
                          learner=learner)


def train(cfg: RecipeConfig, start: str | Path, rows: list[dict], tokenizer: Any, steps: int, out: Path,
          tokenizer_dir: str | Path) -> str:
    """`steps` causal-LM steps from `start` on `rows` on the FSDP learner; returns the final checkpoint dir."""
    init_ray(needed_cpus=cfg.learner.num_workers + 1)
    return train_causal_lm(str(start), rows, causal_lm_settings(cfg, tokenizer, steps), out,
                           tokenizer_dir=str(tokenizer_dir))


def pack_rows(docs: list[Any], cfg: RecipeConfig, eos_id: int) -> list[dict]:
    """Packed rows (default), or one document per row (cut to seq_len) when data.packing is off."""
    order = list(range(len(docs)))
    random.Random(cfg.data.seed).shuffle(order)  # interleave the sources before packing
    token_lists = [docs[i].ids for i in order]
    if cfg.data.packing:
        return pack_documents(token_lists, cfg.data.seq_len, eos_id)
    rows = []
    for ids in token_lists:
        ids = (list(ids) + [eos_id])[: cfg.data.seq_len]
        rows.append({"input_ids": ids, "labels": [IGNORE_INDEX] + ids[1:], "position_ids": list(range(len(ids)))})
    return rows


def run_eval(ev: StageEvalConfig, path: str | Path, chat: bool | None = None) -> dict[str, Any]:
    """Greedy accuracy of checkpoint `path` on the recipe's eval set (`chat` overrides eval.chat)."""
    return eval_checkpoint(str(path), ev.source, ev.split, ev.size, ev.seed, ev.max_tokens,
                           ev.chat if chat is None else chat, ev.engine, ev.batch_size)
