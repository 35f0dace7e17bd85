"""Run one causal-LM recipe stage (pretrain, midtrain, long_context): start checkpoint -> mix
(decontaminated) -> FSDP causal-LM training -> eval.

Stages write into their output directory:

    init/ (init_yarn/)        the start checkpoint when the stage makes one (tiny base, YaRN copy)
    mix_manifest.json         what the mixer drew: docs and tokens per source, seed, files' sha256
    decontamination.json      what matched the eval sets (and was dropped)
    train_log.jsonl           loss, lr, tokens/s, MFU
    final/                    the HF checkpoint (mix_manifest.json copied beside its weights)
    summary.json              start/final eval accuracy, tokens, steps, seconds
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from rlvr.models.tiny import make_tiny_checkpoint
from rlvr.recipes import common
from rlvr.recipes.config import RecipeConfig, RecipeError, derived_steps, resolve_mix_path
from rlvr.recipes.decontaminate import build_decontaminator, write_report
from rlvr.recipes.long_context import apply_yarn, format_table, long_eval_docs, perplexity, yarn_parameters
from rlvr.recipes.mix import Mix, MixResult, build_mix, load_mix, training_texts

log = logging.getLogger(__name__)
CAUSAL_LM_STAGES = ("pretrain", "midtrain", "long_context")


def make_tiny_start(cfg: RecipeConfig, mix: Mix, out: Path) -> Path:
    """A new tokenizer (trained on a sample of the mix) and a randomly initialised tiny Qwen2."""
    tiny = cfg.model.tiny
    texts = training_texts(mix, tiny.seed, max(1, tiny.tokenizer_docs // max(1, len(mix.sources))))
    make_tiny_checkpoint(texts, out / "init", vocab_size=tiny.vocab_size, hidden_size=tiny.hidden_size,
                         num_layers=tiny.num_layers, num_heads=tiny.num_heads,
                         intermediate_size=tiny.intermediate_size,
                         max_position_embeddings=tiny.max_position_embeddings, seed=tiny.seed)
    return out / "init"


def make_config_start(path: str, tokenizer: str, out: Path, seed: int) -> Path:
    """Random weights in the architecture of `path`'s config (pretraining a real model from scratch)."""
    config = AutoConfig.from_pretrained(path)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(out / "init")
    AutoTokenizer.from_pretrained(tokenizer or path).save_pretrained(out / "init")
    return out / "init"


def _start(cfg: RecipeConfig, start: str, mix: Mix, out: Path) -> Path:
    """The checkpoint training starts from: made here (model.init tiny or config) or the resolved `start`."""
    if cfg.model.init == "tiny":
        return make_tiny_start(cfg, mix, out)
    if cfg.model.init == "config":
        return make_config_start(start, cfg.model.tokenizer, out, cfg.model.tiny.seed)
    return Path(start)


def _mixed(cfg: RecipeConfig, mix: Mix, tokenizer: Any, start: Path, out: Path) -> MixResult:
    """The decontaminated mix, with mix_manifest.json (and decontamination.json) written into `out`."""
    decon = None
    if cfg.decontamination.enabled and cfg.decontamination.eval_sets:
        d = cfg.decontamination
        decon = build_decontaminator(d.eval_sets, d.n, d.drop, d.eval_split, d.eval_size)
    mixed = build_mix(mix, tokenizer, cfg.data.total_tokens, cfg.data.seed, decon.keep if decon else None)
    manifest = dict(mixed.manifest, recipe=cfg.name, stage=cfg.stage, start_checkpoint=str(start))
    if decon is not None:
        report = decon.report()
        write_report(report, out / "decontamination.json")
        manifest["decontamination"] = {k: report[k] for k in ("n", "drop", "eval_sets", "sources", "docs_matched")}
    (out / "mix_manifest.json").write_text(json.dumps(manifest, indent=2))
    return mixed


def run_stage(cfg: RecipeConfig, start: str, out: Path) -> dict[str, Any]:
    """Run a pretrain, midtrain or long_context recipe from `start` (resolved; unused for model.init=tiny)
    into `out`; returns (and writes) its summary."""
    if cfg.stage not in CAUSAL_LM_STAGES:
        raise RecipeError(f"recipe {cfg.name!r}: run_stage runs causal-LM stages, not {cfg.stage!r}")
    started = common.begin(cfg, out)
    mix = load_mix(resolve_mix_path(cfg.data.mix))
    begin_at = pre_yarn = _start(cfg, start, mix, out)
    original = 0  # the context the start was trained at (long_context only)
    if cfg.stage == "long_context":
        lc = cfg.long_context
        original = yarn_parameters(AutoConfig.from_pretrained(str(pre_yarn)), lc.factor,
                                   lc.original_max_position_embeddings)["original_max_position_embeddings"]
        begin_at = apply_yarn(pre_yarn, out / "init_yarn", lc.factor, original, lc.beta_fast, lc.beta_slow)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.tokenizer or str(begin_at))
    mixed = _mixed(cfg, mix, tokenizer, begin_at, out)
    rows = common.pack_rows(mixed.docs, cfg, tokenizer.eos_token_id)
    steps = derived_steps(cfg, mixed.manifest["tokens"])
    log.info("%s: %d docs, %d tokens -> %d rows of %d; %d steps", cfg.name, len(mixed.docs),
             mixed.manifest["tokens"], len(rows), cfg.data.seq_len, steps)
    summary: dict[str, Any] = {"recipe": cfg.name, "stage": cfg.stage, "start": str(begin_at), "steps": steps,
                               "tokens": mixed.manifest["tokens"], "rows": len(rows), "output_dir": str(out)}
    evaluate = cfg.eval.enabled and cfg.eval.source
    if evaluate and cfg.model.init == "pretrained":
        summary["eval_start"] = common.run_eval(cfg.eval, begin_at)
    final = Path(common.train(cfg, begin_at, rows, tokenizer, steps, out, cfg.model.tokenizer or str(begin_at)))
    shutil.copy2(out / "mix_manifest.json", final / "mix_manifest.json")
    summary["final"] = str(final)
    if evaluate:
        summary["eval_final"] = common.run_eval(cfg.eval, final)
    if cfg.stage == "long_context":
        summary.update(_perplexities(cfg, tokenizer, {"start (no YaRN)": pre_yarn, "start + YaRN, untrained": begin_at,
                                                      "after long-context training": final}, original))
        print(summary["perplexity_table"])
    return common.finish(summary, out, started)


def _perplexities(cfg: RecipeConfig, tokenizer: Any, checkpoints: dict[str, Path], original: int) -> dict[str, Any]:
    """Perplexity by context length of each checkpoint, on held-out long documents."""
    lc = cfg.long_context
    docs = long_eval_docs(tokenizer, lc.eval_source, max(lc.eval_lengths), lc.eval_docs, lc.eval_seed)
    table = {name: perplexity(path, docs, lc.eval_lengths, original) for name, path in checkpoints.items()}
    return {"perplexity": {k: {str(n): v for n, v in t.items()} for k, t in table.items()},
            "perplexity_table": format_table(table, original)}
