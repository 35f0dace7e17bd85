"""Cached recipe stages: `recipe:NAME` and `base` as start checkpoints, and the pipeline's stages.

A stage is built once per distinct config under cache_dir()/recipes/<name>-<key> (rlvr.cache: lock
and DONE marker). The key covers the config sections the stage reads, its mix file, the code or
data behind every source, and the key of the stage it starts from, so a changed corpus or upstream
stage is rebuilt and a changed hardware note is not.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from rlvr import cache
from rlvr.config import BaseModelConfig
from rlvr.data.builtin import find_builtin
from rlvr.paths import cache_dir
from rlvr.pretrain import built_base, ensure_base_checkpoint
from rlvr.pretrain import cache_key as base_cache_key
from rlvr.recipes import sft
from rlvr.recipes.config import RecipeConfig, RecipeError, compose_recipe, resolve_mix_path
from rlvr.recipes.microanneal import run_microanneal
from rlvr.recipes.mix import load_mix
from rlvr.recipes.select.stage import run_select
from rlvr.recipes.sft_stage import run_sft
from rlvr.recipes.sources import generator_for
from rlvr.recipes.stage import run_stage

Runner = Callable[[RecipeConfig, str, Path], dict[str, Any]]

# The config sections a stage's checkpoint (and its summary's evals) depends on; the others (hardware notes,
# another stage's section) must not invalidate a cached build when their defaults change.
KEY_SECTIONS = ("stage", "model", "data", "decontamination", "train", "learner", "eval")
STAGE_SECTIONS = {"long_context": ("long_context",), "sft": ("sft",), "microanneal": ("microanneal",),
                  "select": ("select",)}


def runner_for(cfg: RecipeConfig) -> Runner:
    """The function that runs this recipe's stage: runner(cfg, resolved start, output dir) -> summary."""
    if cfg.stage == "sft":
        return run_sft
    if cfg.stage == "microanneal":
        return run_microanneal
    if cfg.stage == "select":
        return run_select
    return run_stage


def resolve_start(path: str) -> str:
    """A start checkpoint: "base" (rlvr's cached tiny base), "recipe:NAME" (that recipe's cached output),
    or the path or hub id as given."""
    if path == "base":
        return ensure_base_checkpoint(BaseModelConfig())
    if path.startswith("recipe:"):
        return ensure_recipe_checkpoint(path.split(":", 1)[1])
    return path


def built_start(path: str) -> str | None:
    """Like resolve_start, but never builds: None when "base" or "recipe:NAME" is not in the cache yet."""
    if path == "base":
        return built_base(BaseModelConfig())
    if path.startswith("recipe:"):
        root = cache_root(compose_recipe(path.split(":", 1)[1]))
        return json.loads((root / "summary.json").read_text())["final"] if cache.is_built(root) else None
    return path or None


def ensure_recipe_checkpoint(name: str, overrides: list[str] | None = None) -> str:
    """The final checkpoint of recipe `name` (built once and cached)."""
    return run_cached(compose_recipe(name, overrides))["final"]


def run_cached(cfg: RecipeConfig) -> dict[str, Any]:
    """Run a stage once per distinct config (cache_dir()/recipes/<name>-<key>); later calls reuse it."""
    if cfg.stage in ("microanneal", "select"):
        raise RecipeError(f"recipe {cfg.name!r}: a {cfg.stage} stage makes no checkpoint to start from")
    root = cache_root(cfg)
    built = cache.build_once(root, lambda out: runner_for(cfg)(dataclasses.replace(cfg, output_dir=str(out)),
                                                                resolve_start(cfg.model.path), out))
    summary = json.loads((root / "summary.json").read_text())
    return summary if built else dict(summary, cached=True)


def cache_root(cfg: RecipeConfig) -> Path:
    return cache_dir() / "recipes" / f"{cfg.name}-{stage_key(cfg)}"


def stage_key(cfg: RecipeConfig) -> str:
    full = dataclasses.asdict(cfg)
    blob = {k: full[k] for k in KEY_SECTIONS + STAGE_SECTIONS.get(cfg.stage, ())}
    for bookkeeping in ("keep_last", "resume"):  # how checkpoints are kept, not what the stage computes
        blob["train"].pop(bookkeeping, None)
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
        blob["upstream"] = base_cache_key(BaseModelConfig())
    return cache.key(blob)


def _file_fingerprint(path: Path) -> str:
    """sha256 of a small file; size and mtime of a big one (hashing gigabytes on every lookup is too slow)."""
    stat = path.stat()
    if stat.st_size <= 64 << 20:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _spec_fingerprint(spec: str) -> str:
    """What an SFT source depends on: a JSONL file, or the dataset and recipe code behind think:NAME."""
    if spec.startswith("think:"):
        files = [find_builtin(spec.split(":", 1)[1]), Path(sft.__file__)]
        return ":".join(_file_fingerprint(f) for f in files if f is not None)
    return _file_fingerprint(Path(spec)) if Path(spec).is_file() else spec


def _source_fingerprints(mix_file: Path) -> list[str]:
    """Per mix source, the generator code or data file it reads: a changed corpus must not hit the cache."""
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
