"""Reliability-weighted aggregation and per-source retention.

The paper's exact formula is not public; this one is ours. For kept dimension d with held-out student-teacher
Spearman rho_d, the weight is w_d = max(rho_d, 0)^2 (a dimension the student cannot reproduce counts little),
and a document's aggregate is

    A(x) = sum_d w_d * (s_d(x) - mu_d) / sigma_d  /  sum_d w_d

with mu_d, sigma_d the mean and standard deviation of the teacher's levels on the group's labelled sample
(so the teacher's and the student's aggregates are on one scale). Scores are compared only within a source:
each source keeps its best documents up to `keep` of its own tokens (its share of the budget is kept).
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np


def reliability_weights(rho: Sequence[float]) -> np.ndarray:
    return np.array([max(r, 0.0) ** 2 for r in rho])


def aggregate(levels: np.ndarray, weights: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """A(x) for every row of `levels` (documents x kept dimensions); zeros when no dimension has weight."""
    if levels.shape[1] == 0 or weights.sum() <= 0:
        return np.zeros(levels.shape[0])
    z = (levels - mu) / np.where(sigma > 0, sigma, 1.0)
    return (z * weights).sum(axis=1) / weights.sum()


def top_by_tokens(scores: Sequence[float], lengths: Sequence[int], keep: float, seed: int | str) -> tuple[list[int], float]:
    """Indices of the best-scored documents until `keep` of the tokens are taken (ties broken by a seeded
    shuffle), and the threshold: the lowest kept score."""
    budget = keep * sum(lengths)
    jitter = list(range(len(scores)))
    random.Random(seed).shuffle(jitter)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], jitter[i]))
    chosen, got = [], 0
    for i in order:
        if got >= budget:
            break
        chosen.append(i)
        got += lengths[i]
    return sorted(chosen), min((float(scores[i]) for i in chosen), default=float("inf"))
