"""The arms a selection run writes: MIRA (per-group rubric and student, thresholds per source), the global
ablation (one rubric, one student, one threshold over the pooled sources, with the same registry, teacher
budget and student capacity), random, and the provenance oracle (evaluation only: the one arm that may read
provenance, which never reaches the others).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

import numpy as np

from rlvr.recipes.config import SelectConfig
from rlvr.recipes.select.aggregate import top_by_tokens
from rlvr.recipes.select.grouping import auto_groups, category_groups, grouping_report, similarity
from rlvr.recipes.select.rubrics import Dimension
from rlvr.recipes.select.scorer import GroupResult, Source, score_group

Dims = Callable[[str], Sequence[Dimension]]  # group name -> the candidate dimensions proposed for it
GLOBAL = "global"


@dataclasses.dataclass
class Arm:
    name: str
    kept: dict[str, list[int]]  # source -> kept document indices
    thresholds: dict[str, float]  # source (or "*" for one global threshold) -> lowest kept score
    groups: list[GroupResult] = dataclasses.field(default_factory=list)


def find_groups(sources: Sequence[Source], cfg: SelectConfig) -> tuple[dict[str, list[str]], dict[str, Any]]:
    if cfg.groups == "category":
        groups = category_groups([s.name for s in sources], [s.category for s in sources])
        return groups, grouping_report(groups, None, "category", 0.0)
    sim = similarity({s.name: s.texts for s in sources}, cfg.group_docs, cfg.student.buckets, cfg.student.ngram,
                     cfg.seed)
    groups = auto_groups(sim, cfg.auto_threshold)
    return groups, grouping_report(groups, sim, "auto", cfg.auto_threshold)


def mira_arm(sources: Sequence[Source], groups: dict[str, list[str]], dims: Dims, cfg: SelectConfig) -> Arm:
    by_name = {s.name: s for s in sources}
    results = [score_group(g, [by_name[n] for n in members], dims(g), cfg) for g, members in groups.items()]
    kept, thresholds = {}, {}
    for r in results:
        for name in r.sources:
            s = by_name[name]
            kept[name], thresholds[name] = top_by_tokens(list(r.scores[name]), s.lengths, cfg.keep,
                                                         _seed(cfg.seed, name))
    return Arm("mira", kept, thresholds, results)


def global_arm(sources: Sequence[Source], dims: Dims, cfg: SelectConfig) -> Arm:
    """One rubric and one student over all sources pooled, and one threshold over all their documents."""
    result = score_group(GLOBAL, sources, dims(GLOBAL), cfg)
    flat = [(s.name, i) for s in sources for i in range(len(s.texts))]
    scores = [float(result.scores[n][i]) for n, i in flat]
    lengths = [s.lengths[i] for s in sources for i in range(len(s.texts))]
    chosen, threshold = top_by_tokens(scores, lengths, cfg.keep, _seed(cfg.seed, GLOBAL))
    kept: dict[str, list[int]] = {s.name: [] for s in sources}
    for k in chosen:
        kept[flat[k][0]].append(flat[k][1])
    return Arm(GLOBAL, kept, {"*": threshold}, [result])


def random_arm(sources: Sequence[Source], cfg: SelectConfig) -> Arm:
    kept = {s.name: top_by_tokens([0.0] * len(s.texts), s.lengths, cfg.keep, _seed(cfg.seed, "random/" + s.name))[0]
            for s in sources}
    return Arm("random", kept, {})


def oracle_arm(sources: Sequence[Source], defects: dict[str, list[bool]], cfg: SelectConfig) -> Arm:
    """Clean documents first (in a seeded order), per source, to the same share of tokens."""
    kept = {s.name: top_by_tokens([-float(d) for d in defects[s.name]], s.lengths, cfg.keep,
                                  _seed(cfg.seed, "oracle/" + s.name))[0] for s in sources}
    return Arm("oracle", kept, {})


def run_arms(sources: Sequence[Source], dims: Dims, cfg: SelectConfig,
             defects: Optional[dict[str, list[bool]]] = None) -> tuple[list[Arm], dict[str, Any]]:
    """The main arm (select.scope) and the baselines; the grouping report."""
    groups, report = find_groups(sources, cfg)
    arms = [mira_arm(sources, groups, dims, cfg) if cfg.scope == "source" else global_arm(sources, dims, cfg)]
    wanted = [b for b in cfg.baselines if b != arms[0].name]
    if "global" in wanted:
        arms.append(global_arm(sources, dims, cfg))
    if "random" in wanted:
        arms.append(random_arm(sources, cfg))
    if "oracle" in wanted and defects is not None:
        arms.append(oracle_arm(sources, defects, cfg))
    return arms, report


def arm_stats(arm: Arm, sources: Sequence[Source], defects: Optional[dict[str, list[bool]]]) -> dict[str, Any]:
    """Kept documents, tokens and share per source; the defect rate of the kept documents where provenance exists."""
    total = sum(sum(s.lengths[i] for i in arm.kept[s.name]) for s in sources)
    out = {}
    for s in sources:
        idx = arm.kept[s.name]
        tokens = sum(s.lengths[i] for i in idx)
        row: dict[str, Any] = {"docs": len(idx), "tokens": tokens, "share": round(tokens / max(1, total), 4),
                               "pool_share": round(sum(s.lengths) / max(1, sum(sum(x.lengths) for x in sources)), 4)}
        if defects is not None and s.name in defects:
            d = defects[s.name]
            row["defect_rate"] = round(float(np.mean([d[i] for i in idx])) if idx else 0.0, 4)
            row["pool_defect_rate"] = round(float(np.mean(d)), 4)
        out[s.name] = row
    return out



def _seed(seed: int, name: str) -> str:
    return f"{seed}/{name}"  # random.Random seeds from a string deterministically
