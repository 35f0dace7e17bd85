"""`rlvr sft`: Think SFT on the FSDP learner (objective causal_lm with labels on assistant tokens only).

Writes tokenizer/ (the start tokenizer with the Think chat template, which the final checkpoint
inherits so `apply_chat_template` and vLLM's chat API produce the trained format), sft_data.json
(examples, dropped, label tokens), train_log.jsonl, final/ and summary.json (eval accuracy of the
start and final checkpoints, prompted through the chat template).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from rlvr.recipes import common
from rlvr.recipes.config import RecipeConfig, RecipeError
from rlvr.recipes.sft import build_sft_rows, load_chat_template

log = logging.getLogger(__name__)


def run_sft(cfg: RecipeConfig, start: str, out: Path) -> dict[str, Any]:
    """Think SFT of the resolved checkpoint `start` into `out`; returns (and writes) its summary."""
    if cfg.stage != "sft":
        raise RecipeError(f"recipe {cfg.name!r}: run_sft runs sft recipes, not {cfg.stage!r}")
    started = common.begin(cfg, out)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.tokenizer or start)
    tokenizer.chat_template = load_chat_template(cfg.sft.chat_template)
    tokenizer.save_pretrained(str(out / "tokenizer"))
    rows, data = build_sft_rows(tokenizer, cfg.sft.data, cfg.sft.max_examples, cfg.sft.max_len, cfg.data.seed,
                                cfg.sft.packing, cfg.data.seq_len)
    (out / "sft_data.json").write_text(json.dumps(data, indent=2))
    steps = cfg.train.steps or max(1, math.ceil(len(rows) * cfg.train.epochs / cfg.train.batch_size))
    log.info("%s: %d examples (%d dropped as too long) in %d rows; %d steps", cfg.name, data["examples"],
             data["dropped_too_long"], len(rows), steps)
    summary: dict[str, Any] = {"recipe": cfg.name, "stage": "sft", "start": start, "steps": steps,
                               "examples": data["examples"], "label_tokens": data["label_tokens"],
                               "output_dir": str(out)}
    ev = cfg.eval
    if ev.enabled:
        # The start checkpoint never saw the chat format: its reference figure uses the plain RL-Zero prompt.
        summary["eval_start"] = dict(common.run_eval(ev, start, chat=False), prompt="plain")
    final = common.train(cfg, start, rows, tokenizer, steps, out, out / "tokenizer")
    summary["final"] = final
    if ev.enabled:
        summary["eval_final"] = dict(common.run_eval(ev, final), prompt="chat" if ev.chat else "plain")
    return common.finish(summary, out, started)
