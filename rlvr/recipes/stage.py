"""Run one recipe stage: start checkpoint -> mix (decontaminated) -> FSDP causal-LM training -> eval.

Stages write into their output directory:

    init/ (init_yarn/)        the start checkpoint when the stage makes one (tiny base, YaRN copy)
    mix_manifest.json         what the mixer drew: docs and tokens per source, seed, files' sha256
    decontamination.json      what matched the eval sets (and was dropped)
    train_log.jsonl           loss, lr, tokens/s, MFU
    final/                    the HF checkpoint (mix_manifest.json copied beside its weights)
    summary.json              start/final eval accuracy, tokens, steps, seconds
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import random
import shutil
import time
from pathlib import Path
from typing import Any

from rlvr.paths import REPO_ROOT, cache_dir
from rlvr.recipes.config import RecipeConfig, RecipeError, compose_recipe, derived_steps, resolve_mix_path

log = logging.getLogger(__name__)


def default_output_dir(cfg: RecipeConfig) -> Path:
    if cfg.output_dir:
        return Path(cfg.output_dir)
    return REPO_ROOT / "runs" / "recipes" / cfg.name / time.strftime("%Y-%m-%d_%H-%M-%S")


def resolve_start(path: str) -> str:
    """A start checkpoint: "base" (rlvr's cached tiny base), "recipe:NAME" (that recipe's cached output), or as given."""
    if path == "base":
        from rlvr.config import BaseModelConfig
        from rlvr.pretrain import ensure_base_checkpoint

        return ensure_base_checkpoint(BaseModelConfig())
    if path.startswith("recipe:"):
        return ensure_recipe_checkpoint(path.split(":", 1)[1])
    return path


def built_start(path: str) -> str | None:
    """Like resolve_start, but never builds: None when "base" or "recipe:NAME" is not in the cache yet."""
    if path == "base":
        from rlvr.config import BaseModelConfig
        from rlvr.pretrain import cache_key

        root = cache_dir() / "base" / cache_key(BaseModelConfig())
        return str(root / "final") if (root / "DONE").exists() else None
    if path.startswith("recipe:"):
        root = cache_root(compose_recipe(path.split(":", 1)[1]))
        return json.loads((root / "summary.json").read_text())["final"] if (root / "DONE").exists() else None
    return path or None


def _learner_settings(cfg: RecipeConfig, tokenizer: Any, steps: int) -> Any:
    from rlvr.config import LearnerConfig
    from rlvr.learner.causal_lm import CausalLMConfig

    t = cfg.train
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    learner = LearnerConfig(num_workers=t.num_workers, gpus_per_worker=t.gpus_per_worker,
                            threads_per_worker=t.threads_per_worker, lr=t.lr, weight_decay=t.weight_decay,
                            betas=[0.9, 0.95], warmup_steps=min(t.warmup_steps, max(0, steps - 1)),
                            lr_schedule=t.lr_schedule, grad_clip=t.grad_clip, micro_batch_size=t.micro_batch_size,
                            mixed_precision=t.mixed_precision)
    return CausalLMConfig(steps=steps, batch_size=t.batch_size, save_every=t.save_every, log_every=t.log_every,
                          peak_tflops=t.peak_tflops, seed=t.seed, dtype=cfg.model.dtype, pad_id=int(pad or 0),
                          learner=learner)


def make_tiny_start(cfg: RecipeConfig, mix: Any, out: Path) -> Path:
    """A new tokenizer (trained on a sample of the mix) and a randomly initialised tiny Qwen2."""
    from rlvr.models.tiny import init_model, tiny_qwen2_config
    from rlvr.models.tokenizer import train_tokenizer
    from rlvr.recipes.mix import training_texts

    tiny = cfg.model.tiny
    texts = training_texts(mix, tiny.seed, max(1, tiny.tokenizer_docs // max(1, len(mix.sources))))
    tok = train_tokenizer(texts, vocab_size=tiny.vocab_size, out_dir=out / "init")
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    config = tiny_qwen2_config(len(tok), hidden_size=tiny.hidden_size, num_layers=tiny.num_layers,
                               num_heads=tiny.num_heads, head_dim=tiny.hidden_size // tiny.num_heads,
                               intermediate_size=tiny.intermediate_size,
                               max_position_embeddings=tiny.max_position_embeddings,
                               eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id, pad_token_id=pad)
    init_model(config, tiny.seed).save_pretrained(out / "init")
    return out / "init"


def make_config_start(path: str, tokenizer: str, out: Path, seed: int) -> Path:
    """Random weights in the architecture of `path`'s config (pretraining a real model from scratch)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(path)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(out / "init")
    AutoTokenizer.from_pretrained(tokenizer or path).save_pretrained(out / "init")
    return out / "init"


def pack_rows(docs: list[Any], cfg: RecipeConfig, eos_id: int) -> list[dict]:
    """Packed rows (default), or one document per row (cut to seq_len) when data.packing is off."""
    from rlvr.data.packing import pack_documents

    order = list(range(len(docs)))
    random.Random(cfg.data.seed).shuffle(order)  # interleave the sources before packing
    token_lists = [docs[i].ids for i in order]
    if cfg.data.packing:
        return pack_documents(token_lists, cfg.data.seq_len, eos_id)
    rows = []
    for ids in token_lists:
        ids = (list(ids) + [eos_id])[: cfg.data.seq_len]
        rows.append({"input_ids": ids, "labels": [-100] + ids[1:], "position_ids": list(range(len(ids)))})
    return rows


def run_stage(cfg: RecipeConfig, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Run a pretrain, midtrain or long_context recipe; returns (and writes) its summary."""
    from transformers import AutoTokenizer

    from rlvr.placement import init_ray
    from rlvr.learner.causal_lm import train_causal_lm
    from rlvr.recipes.decontaminate import build_decontaminator, write_report
    from rlvr.recipes.evaluate import eval_checkpoint
    from rlvr.recipes.mix import build_mix, load_mix

    if cfg.stage not in ("pretrain", "midtrain", "long_context"):
        raise RecipeError(f"recipe {cfg.name!r}: run_stage runs causal-LM stages, not {cfg.stage!r}")
    started = time.time()
    out = Path(out_dir) if out_dir else default_output_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    from rlvr.recipes.config import to_yaml

    (out / "recipe.yaml").write_text(to_yaml(cfg))
    mix = load_mix(resolve_mix_path(cfg.data.mix))
    if cfg.model.init == "tiny":
        start = make_tiny_start(cfg, mix, out)
    elif cfg.model.init == "config":
        start = make_config_start(cfg.model.path, cfg.model.tokenizer, out, cfg.model.tiny.seed)
    else:
        start = Path(resolve_start(cfg.model.path))
    lc_original = 0
    if cfg.stage == "long_context":
        from rlvr.recipes.long_context import apply_yarn, yarn_parameters
        from transformers import AutoConfig

        lc = cfg.long_context
        lc_original = yarn_parameters(AutoConfig.from_pretrained(str(start)), lc.factor,
                                      lc.original_max_position_embeddings)["original_max_position_embeddings"]
        pre_yarn = start
        start = apply_yarn(start, out / "init_yarn", lc.factor, lc_original, lc.beta_fast, lc.beta_slow)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.tokenizer or str(start))
    eos = tokenizer.eos_token_id
    keep = None
    decon = None
    if cfg.decontamination.enabled and cfg.decontamination.eval_sets:
        d = cfg.decontamination
        decon = build_decontaminator(d.eval_sets, d.n, d.drop, d.eval_split, d.eval_size)
        keep = decon.keep
    mixed = build_mix(mix, tokenizer, cfg.data.total_tokens, cfg.data.seed, keep)
    manifest = dict(mixed.manifest, recipe=cfg.name, stage=cfg.stage, start_checkpoint=str(start))
    if decon is not None:
        report = decon.report()
        write_report(report, out / "decontamination.json")
        manifest["decontamination"] = {k: report[k] for k in ("n", "drop", "eval_sets", "sources", "docs_matched")}
    (out / "mix_manifest.json").write_text(json.dumps(manifest, indent=2))
    rows = pack_rows(mixed.docs, cfg, eos)
    steps = derived_steps(cfg, mixed.manifest["tokens"])
    log.info("%s: %d docs, %d tokens -> %d rows of %d; %d steps", cfg.name, len(mixed.docs),
             mixed.manifest["tokens"], len(rows), cfg.data.seq_len, steps)
    summary: dict[str, Any] = {"recipe": cfg.name, "stage": cfg.stage, "start": str(start), "steps": steps,
                               "tokens": mixed.manifest["tokens"], "rows": len(rows), "output_dir": str(out)}
    ev = cfg.eval
    evaluate = ev.enabled and ev.source

    def run_eval(path: Path) -> dict[str, Any]:
        return eval_checkpoint(str(path), ev.source, ev.split, ev.size, ev.seed, ev.max_tokens, ev.chat, ev.engine,
                               ev.batch_size)

    if evaluate and cfg.model.init == "pretrained":
        summary["eval_start"] = run_eval(start)
    init_ray(needed_cpus=cfg.train.num_workers + 1)
    final = Path(train_causal_lm(str(start), rows, _learner_settings(cfg, tokenizer, steps), out,
                                 tokenizer_dir=cfg.model.tokenizer or str(start)))
    shutil.copy2(out / "mix_manifest.json", final / "mix_manifest.json")
    summary["final"] = str(final)
    if evaluate:
        summary["eval_final"] = run_eval(final)
    if cfg.stage == "long_context":
        from rlvr.recipes.long_context import format_table, long_eval_docs, perplexity

        lc = cfg.long_context
        docs = long_eval_docs(tokenizer, lc.eval_source, max(lc.eval_lengths), lc.eval_docs, lc.eval_seed)
        table = {"start (no YaRN)": perplexity(pre_yarn, docs, lc.eval_lengths, lc_original),
                 "start + YaRN, untrained": perplexity(start, docs, lc.eval_lengths, lc_original),
                 "after long-context training": perplexity(final, docs, lc.eval_lengths, lc_original)}
        summary["perplexity"] = {k: {str(n): v for n, v in t.items()} for k, t in table.items()}
        summary["perplexity_table"] = format_table(table, lc_original)
        print(summary["perplexity_table"])
    summary["seconds"] = round(time.time() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


# ---- cached stages (recipe:NAME as a start checkpoint, the pipeline) ------------------------------------

# The config sections a stage's checkpoint (and its summary's evals) depends on; the others (hardware notes,
# another stage's section) must not invalidate a cached build when their defaults change.
KEY_SECTIONS = ("stage", "model", "data", "decontamination", "train", "eval")
STAGE_SECTIONS = {"long_context": ("long_context",), "sft": ("sft",), "microanneal": ("microanneal",)}


def stage_key(cfg: RecipeConfig) -> str:
    full = dataclasses.asdict(cfg)
    blob = {k: full[k] for k in KEY_SECTIONS + STAGE_SECTIONS.get(cfg.stage, ())}
    mix_file = resolve_mix_path(cfg.data.mix) if cfg.data.mix else None
    if mix_file is not None and mix_file.is_file():
        blob["mix_sha256"] = hashlib.sha256(mix_file.read_bytes()).hexdigest()
        blob["sources"] = _source_fingerprints(mix_file)
    if cfg.stage == "sft":
        blob["sft_sources"] = [_spec_fingerprint(spec) for spec in cfg.sft.data]
    # A stage built on another cached stage is stale when that one changes: key on its key too.
    if cfg.model.path.startswith("recipe:"):
        blob["upstream"] = stage_key(compose_recipe(cfg.model.path.split(":", 1)[1]))
    elif cfg.model.path == "base":
        from rlvr.config import BaseModelConfig
        from rlvr.pretrain import cache_key

        blob["upstream"] = cache_key(BaseModelConfig())
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_fingerprint(path: Path) -> str:
    """sha256 of a small file; size and mtime of a big one (hashing gigabytes on every lookup is too slow)."""
    stat = path.stat()
    if stat.st_size <= 64 << 20:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _spec_fingerprint(spec: str) -> str:
    """What an SFT source depends on: a JSONL file, or the dataset and recipe code behind think:NAME."""
    from rlvr.data.builtin import find_builtin

    if spec.startswith("think:"):
        files = [find_builtin(spec.split(":", 1)[1]), Path(__file__).with_name("sft.py")]
        return ":".join(_file_fingerprint(f) for f in files if f is not None)
    return _file_fingerprint(Path(spec)) if Path(spec).is_file() else spec


def _source_fingerprints(mix_file: Path) -> list[str]:
    """Per mix source, the generator code or data file it reads: a changed corpus must not hit the cache."""
    from rlvr.recipes.mix import load_mix
    from rlvr.recipes.sources import generator_for

    out = []
    for spec in load_mix(mix_file).sources:
        if spec.kind == "builtin" and spec.location.startswith("think:"):
            out.append(_spec_fingerprint(spec.location))  # the traces depend on the dataset and on sft.py
        elif spec.kind == "builtin":
            _, origin = generator_for(spec.where, spec.location, spec.text_field, spec.template)
            out.append(_file_fingerprint(origin) if origin is not None else spec.location)
        elif spec.kind == "path" and Path(spec.location).is_file():
            out.append(_file_fingerprint(Path(spec.location)))
        else:
            out.append(spec.location)
    return out


def cache_root(cfg: RecipeConfig) -> Path:
    return cache_dir() / "recipes" / f"{cfg.name}-{stage_key(cfg)}"


def run_cached(cfg: RecipeConfig, runner: Any = None) -> dict[str, Any]:
    """Run a stage once per distinct config (cache_dir()/recipes/<name>-<key>); later calls reuse it."""
    root = cache_root(cfg)
    done = root / "summary.json"
    if (root / "DONE").exists():
        return dict(json.loads(done.read_text()), cached=True)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / "DONE").exists():
            return dict(json.loads(done.read_text()), cached=True)
        run = runner or run_stage
        summary = run(dataclasses.replace(cfg, output_dir=str(root)), root)
        (root / "DONE").write_text("ok\n")
    return summary


def ensure_recipe_checkpoint(name: str, overrides: list[str] | None = None) -> str:
    """The final checkpoint of recipe `name` (built once and cached)."""
    cfg = compose_recipe(name, overrides)
    return run_cached(cfg, runner_for(cfg))["final"]


def runner_for(cfg: RecipeConfig) -> Any:
    if cfg.stage == "sft":
        from rlvr.recipes.sft_stage import run_sft

        return run_sft
    if cfg.stage == "microanneal":
        raise RecipeError(f"recipe {cfg.name!r}: a microanneal makes no checkpoint to start from")
    return run_stage
