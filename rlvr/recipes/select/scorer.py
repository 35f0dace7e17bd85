"""One group through MIRA: teacher labels on its sample, rubric discovery, a student distilled from the
labels, held-out agreement, and the student's reliability-weighted aggregate for every document of the group.

The student answers in the teacher's terms: its output per dimension is rounded to an anchored level 0-4
(MIRA's student also emits a score per rubric dimension). Agreement is measured on those levels; documents
are ranked by the aggregate of the levels, ties broken by the aggregate of the unrounded outputs.
(A level has ties by construction: against a two-valued teacher dimension, even a perfect continuous score
could not reach a Spearman above about 0.8, so continuous outputs would understate a perfect student.)
"""
from __future__ import annotations

import dataclasses
import random
from typing import Any, Sequence

import numpy as np
import torch

from rlvr.recipes.config import SelectConfig
from rlvr.recipes.select import student
from rlvr.recipes.select.aggregate import aggregate, reliability_weights
from rlvr.recipes.select.discover import Rubric, discover
from rlvr.recipes.select.features import featurize
from rlvr.recipes.select.judges import parse
from rlvr.recipes.select.rubrics import Dimension
from rlvr.recipes.select.stats import spearman


@dataclasses.dataclass
class Source:
    """A candidate source as the selector sees it: texts and token lengths, nothing else."""

    name: str
    category: str
    texts: list[str]
    lengths: list[int]


@dataclasses.dataclass
class GroupResult:
    group: str
    sources: list[str]
    rubric: Rubric
    metrics: dict[str, Any]  # held-out Spearman per dimension and of the aggregate, weights
    scores: dict[str, np.ndarray]  # source -> aggregate per document
    labelled: dict[str, list[int]]  # source -> indices the teacher labelled
    model: Any  # the student (torch module)


TIE_BREAK = 1e-3  # weight of the unrounded aggregate: orders documents within one aggregate of levels


def anchored(pred: np.ndarray) -> np.ndarray:
    """The student's outputs as anchored levels, as the teacher gives them."""
    return np.clip(np.round(pred), 0, 4)


def teacher_sample(source: Source, share: float, seed: int) -> list[int]:
    """The documents the teacher labels: a seeded `share` of the source (at least 8, at most all)."""
    n = len(source.texts)
    k = min(n, max(8, int(share * n)))
    return sorted(random.Random(f"{seed}/teacher/{source.name}").sample(range(n), k))


def score_group(group: str, members: Sequence[Source], dims: Sequence[Dimension], cfg: SelectConfig) -> GroupResult:
    """Label, discover, distil and score one group of sources."""
    sc = cfg.student
    labelled = {s.name: teacher_sample(s, cfg.teacher_share, cfg.seed) for s in members}
    sample = [s.texts[i] for s in members for i in labelled[s.name]]
    rubric = discover(group, [parse(t) for t in sample], dims, cfg.discovery, cfg.seed)
    levels = np.array([rubric.levels[d] for d in rubric.kept], dtype=float).T.reshape(len(sample), len(rubric.kept))
    order = list(range(len(sample)))
    random.Random(f"{cfg.seed}/holdout/{group}").shuffle(order)
    cut = max(1, int(len(order) * sc.holdout))
    held, train = sorted(order[:cut]), sorted(order[cut:])
    bags = featurize(sample, sc.buckets, sc.ngram, sc.raw_ngram)
    model = student.fit(bags, train, torch.tensor(levels[train]), sc, cfg.seed) if rubric.kept else None
    mu, sigma = levels[train].mean(axis=0), levels[train].std(axis=0)
    metrics = _agreement(model, bags, held, levels, rubric.kept, mu, sigma)
    weights = np.array([metrics["weights"][d] for d in rubric.kept])
    scores = {}
    for s in members:
        if model is None:
            scores[s.name] = np.zeros(len(s.texts))
            continue
        all_bags = featurize(s.texts, sc.buckets, sc.ngram, sc.raw_ngram)
        pred = student.predict(model, all_bags, list(range(len(s.texts)))).numpy()
        scores[s.name] = aggregate(anchored(pred), weights, mu, sigma) + TIE_BREAK * aggregate(pred, weights, mu, sigma)
    return GroupResult(group, [s.name for s in members], rubric, metrics, scores, labelled, model)


def _agreement(model: Any, bags: Any, held: list[int], levels: np.ndarray, kept: list[str], mu: np.ndarray,
               sigma: np.ndarray) -> dict[str, Any]:
    """Held-out Spearman per dimension, the reliability weights, and the aggregate's Spearman (teacher vs student)."""
    if model is None:
        return {"spearman": {}, "weights": {}, "aggregate_spearman": None, "held_out": len(held)}
    raw = student.predict(model, bags, held).numpy()
    pred, truth = anchored(raw), levels[held]
    rho = [spearman(pred[:, d], truth[:, d]) for d in range(len(kept))]
    w = reliability_weights(rho)
    agg = spearman(aggregate(pred, w, mu, sigma), aggregate(truth, w, mu, sigma))
    mae = np.abs(raw - truth).mean(axis=0)
    return {"spearman": {d: round(r, 4) for d, r in zip(kept, rho)},
            "mae": {d: round(float(m), 4) for d, m in zip(kept, mae)},
            "weights": {d: round(float(x), 4) for d, x in zip(kept, w)},
            "aggregate_spearman": round(agg, 4), "held_out": len(held), "trained_on": len(levels) - len(held)}
