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
import time
from pathlib import Path
from typing import Any

from rlvr.recipes.config import RecipeConfig, RecipeError, to_yaml

log = logging.getLogger(__name__)


def run_sft(cfg: RecipeConfig, out_dir: str | Path | None = None) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from rlvr.placement import init_ray
    from rlvr.learner.causal_lm import train_causal_lm
    from rlvr.recipes.evaluate import eval_checkpoint
    from rlvr.recipes.sft import build_sft_rows, load_chat_template
    from rlvr.recipes.stage import _learner_settings, default_output_dir, resolve_start

    if cfg.stage != "sft":
        raise RecipeError(f"recipe {cfg.name!r}: run_sft runs sft recipes, not {cfg.stage!r}")
    started = time.time()
    out = Path(out_dir) if out_dir else default_output_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(to_yaml(cfg))
    start = resolve_start(cfg.model.path)
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

    def run_eval(path: str, chat: bool) -> dict[str, Any]:
        return eval_checkpoint(path, ev.source, ev.split, ev.size, ev.seed, ev.max_tokens, chat, ev.engine,
                               ev.batch_size)

    if ev.enabled:
        # The start checkpoint never saw the chat format: its reference figure uses the plain RL-Zero prompt.
        summary["eval_start"] = dict(run_eval(start, False), prompt="plain")
    init_ray(needed_cpus=cfg.train.num_workers + 1)
    final = train_causal_lm(start, rows, _learner_settings(cfg, tokenizer, steps), out,
                            tokenizer_dir=str(out / "tokenizer"))
    summary["final"] = final
    if ev.enabled:
        summary["eval_final"] = dict(run_eval(final, ev.chat), prompt="chat" if ev.chat else "plain")
    summary["seconds"] = round(time.time() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
