"""`rlvr select`: a candidate pool (a mix file) in; per arm, the selected documents and a mix file over them
out (outputs.py), with a manifest and a summary table. The main arm is MIRA (select.scope=source) or the
global ablation; select.baselines adds the others. model.path is the checkpoint whose tokenizer counts the
tokens and which, for the groups in select.model_groups, answers the documents' questions as a teacher.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional, Sequence

from transformers import AutoTokenizer

from rlvr.recipes import common
from rlvr.recipes.config import RecipeConfig, RecipeError, resolve_mix_path
from rlvr.recipes.mix import load_mix, load_pool, packed_length, source_seed, tokenize
from rlvr.recipes.select.outputs import write_arm, write_group
from rlvr.recipes.select.provenance import pool_defects
from rlvr.recipes.select.rubrics import Dimension, registry
from rlvr.recipes.select.scorer import Source
from rlvr.recipes.select.selection import GLOBAL, Arm, Dims, arm_stats, run_arms

log = logging.getLogger(__name__)


def load_sources(cfg: RecipeConfig, tokenizer: Any) -> tuple[list[Source], dict[str, list[bool]], dict[str, Any]]:
    """The pool's sources (texts and packed token lengths), their provenance (evaluation only), the mix's hashes."""
    mix = load_mix(resolve_mix_path(cfg.data.mix))
    eos = getattr(tokenizer, "eos_token_id", None)
    sources, defects = [], {}
    for spec in mix.sources:
        seed = source_seed(cfg.data.seed, spec.name)
        texts, origin = load_pool(spec, seed, 0, lambda t: 0)
        if not texts:
            raise RecipeError(f"{spec.where}: the source has no documents")
        lengths = [packed_length(ids, eos) for ids in tokenize(tokenizer, texts)]
        sources.append(Source(spec.name, spec.category, texts, lengths))
        found = pool_defects(spec, seed, texts)
        if found is not None:
            defects[spec.name] = found
    return sources, defects, {"mix_file": mix.path, "mix_sha256": mix.sha256, "data_seed": cfg.data.seed}


def dimensions(cfg: RecipeConfig, start: str, tokenizer: Any) -> Dims:
    """group -> the candidate dimensions: the rules, plus the model judge where select.model_groups asks."""
    model_dim: Optional[Dimension] = None
    if cfg.select.model_groups:
        from rlvr.recipes.evaluate import hf_generate
        from rlvr.recipes.select.model_judge import model_agrees

        model_dim = model_agrees(hf_generate(start, cfg.eval.batch_size), tokenizer, cfg.select.model_temperature)
    wanted = set(cfg.select.model_groups)
    # The global ablation gets the same registry: the model judge too, when any group has it.
    return lambda group: registry(model_dim if group in wanted or (group == GLOBAL and wanted) else None)


def run_select(cfg: RecipeConfig, start: str, out: Path) -> dict[str, Any]:
    """Select from the pool of `cfg.data.mix` into `out`; returns (and writes) the summary."""
    started = common.begin(cfg, out)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.tokenizer or start)
    sources, defects, mix_info = load_sources(cfg, tokenizer)
    arms, report = run_arms(sources, dimensions(cfg, start, tokenizer), cfg.select, defects or None)
    manifest: dict[str, Any] = dict(mix_info, recipe=cfg.name, start_checkpoint=start, seed=cfg.select.seed,
                                    keep=cfg.select.keep, scope=cfg.select.scope, grouping=report,
                                    pool={s.name: {"docs": len(s.texts), "tokens": sum(s.lengths),
                                                   "category": s.category} for s in sources},
                                    provenance_used_by=["oracle", "evaluation"], arms={})
    for arm in arms:
        groups = {r.group: write_group(r, sources, out / arm.name) for r in arm.groups}
        manifest["arms"][arm.name] = dict(write_arm(arm, sources, out, cfg.select.max_epochs), groups=groups,
                                          thresholds=arm.thresholds, sources=arm_stats(arm, sources, defects or None))
    # The whole pool as a mix too (weights = its tokens per source): the full-pool arm trains on it.
    everything = Arm("full", {s.name: list(range(len(s.texts))) for s in sources}, {})
    manifest["arms"]["full"] = dict(write_arm(everything, sources, out, cfg.select.max_epochs),
                                    groups={}, thresholds={}, sources=arm_stats(everything, sources, defects or None))
    (out / "selection_manifest.json").write_text(json.dumps(manifest, indent=2))
    summary = {"recipe": cfg.name, "stage": cfg.stage, "output_dir": str(out),
               "mix": {a: manifest["arms"][a]["mix"] for a in manifest["arms"]},
               "table": format_table(manifest, [s.name for s in sources])}
    return common.finish(summary, out, started)


def format_table(manifest: dict[str, Any], names: Sequence[str]) -> str:
    """Per arm and source: kept share of tokens, and defect rate (where provenance exists)."""
    lines = [f"selection keep={manifest['keep']}: token share / defect rate of the kept documents per source",
             f"{'arm':<10}" + "".join(f"{n:>20}" for n in names)]
    for arm, info in manifest["arms"].items():
        cells = []
        for n in names:
            row = info["sources"][n]
            rate = f"{row['defect_rate']:.3f}" if "defect_rate" in row else "-"
            cells.append(f"{row['share']:>12.3f} / {rate:>5}")
        lines.append(f"{arm:<10}" + "".join(cells))
    for arm, info in manifest["arms"].items():
        for g, entry in info["groups"].items():
            lines.append(f"{arm}/{g}: kept {entry['kept']}; student-teacher Spearman (aggregate, held out) "
                         f"{entry['student']['aggregate_spearman']}")
    return "\n".join(lines)
