"""Rubric discovery per group: run every candidate dimension on the group's teacher sample and keep it only
when it applies to enough documents, varies there, agrees with its own repeat and is not redundant with a
dimension already kept. Every dropped dimension carries its reason; at most `max_dims` are kept.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np

from rlvr.recipes.config import SelectDiscoveryConfig
from rlvr.recipes.select.judges import Parsed
from rlvr.recipes.select.rubrics import Dimension, level
from rlvr.recipes.select.stats import spearman


@dataclasses.dataclass
class Rubric:
    group: str
    kept: list[str]
    dropped: dict[str, str]  # dimension -> reason
    stats: dict[str, dict[str, Any]]
    anchors: dict[str, str]
    levels: dict[str, list[int]]  # kept dimension -> teacher level per sample document

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "kept": self.kept, "dropped": self.dropped, "stats": self.stats,
                "anchors": {k: self.anchors[k] for k in self.kept}}


def _judge_twice(dim: Dimension, docs: Sequence[Parsed], seed: int) -> tuple[list[Optional[float]], list[Optional[float]]]:
    first = dim.judge(docs, seed)
    return first, (dim.judge(docs, seed + 1) if dim.stochastic else first)


def discover(group: str, docs: Sequence[Parsed], dims: Sequence[Dimension], rules: SelectDiscoveryConfig,
             seed: int) -> Rubric:
    """The anchored rubric of one group from its teacher-labelled sample `docs`."""
    kept: list[str] = []
    dropped: dict[str, str] = {}
    stats: dict[str, dict[str, Any]] = {}
    levels: dict[str, list[int]] = {}
    for dim in dims:
        first, second = _judge_twice(dim, docs, seed)
        applied = [i for i, v in enumerate(first) if v is not None]
        lv = [level(v) for v in first]
        share = len(applied) / max(1, len(docs))
        std = float(np.std([lv[i] for i in applied])) if applied else 0.0
        reliability = spearman([lv[i] for i in applied], [level(second[i]) for i in applied]) if applied else 0.0
        s: dict[str, Any] = {"applicable": round(share, 4), "level_std": round(std, 4),
                             "reliability": round(reliability, 4), "teacher": dim.teacher}
        stats[dim.name] = s
        if share < rules.min_applicable:
            dropped[dim.name] = f"applies to {share:.0%} of the group's documents (< {rules.min_applicable:.0%})"
            continue
        if std < rules.min_std:
            dropped[dim.name] = f"does not vary in the group (level std {std:.2f} < {rules.min_std})"
            continue
        if reliability < rules.min_reliability:
            dropped[dim.name] = f"unreliable on repeat (Spearman {reliability:.2f} < {rules.min_reliability})"
            continue
        twin = max(((k, abs(spearman(lv, levels[k]))) for k in kept), key=lambda kv: kv[1], default=None)
        if twin is not None and twin[1] >= rules.max_redundancy:
            s["redundant_with"] = twin[0]
            dropped[dim.name] = f"redundant with {twin[0]} (|Spearman| {twin[1]:.2f} >= {rules.max_redundancy})"
            continue
        if len(kept) >= rules.max_dims:
            dropped[dim.name] = f"{rules.max_dims} dimensions already kept"
            continue
        kept.append(dim.name)
        levels[dim.name] = lv
    return Rubric(group, kept, dropped, stats, {d.name: d.anchors for d in dims}, levels)
