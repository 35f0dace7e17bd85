"""Source groups: the mix's `category:` fields, or found automatically by clustering source centroids.

`auto`: each source's centroid is the mean hashed n-gram vector (features.py) of a seeded sample of its
documents; sources are merged by average-linkage agglomerative clustering on centroid cosine similarity
while the best pair of groups is at least `threshold` alike. The similarity matrix is the report (as the
MIRA model cards' source-grouping report).
"""
from __future__ import annotations

import random
from typing import Any, Sequence

import torch

from rlvr.recipes.select.features import featurize


def category_groups(names: Sequence[str], categories: Sequence[str]) -> dict[str, list[str]]:
    """group -> source names; a source without a category is a group of its own."""
    groups: dict[str, list[str]] = {}
    for name, category in zip(names, categories):
        groups.setdefault(category or name, []).append(name)
    return groups


def similarity(texts: dict[str, Sequence[str]], docs: int, buckets: int, ngram: int, seed: int) -> dict[str, dict[str, float]]:
    """Cosine similarity of the sources' centroids (shape n-grams only: groups are about format and role)."""
    centroids = {}
    for name, pool in texts.items():
        rows = random.Random(f"{seed}/{name}").sample(range(len(pool)), min(docs, len(pool)))
        bags = featurize([pool[i] for i in rows], buckets, ngram, 0)
        c = bags.dense_mean(range(len(bags)), buckets)
        centroids[name] = c / (c.norm() or 1.0)
    return {a: {b: round(float(torch.dot(ca, cb)), 4) for b, cb in centroids.items()} for a, ca in centroids.items()}


def auto_groups(sim: dict[str, dict[str, float]], threshold: float) -> dict[str, list[str]]:
    """Average-linkage clusters of the sources; a group is named after its members joined by '+'."""
    clusters = [[name] for name in sim]

    def link(x: list[str], y: list[str]) -> float:
        return sum(sim[a][b] for a in x for b in y) / (len(x) * len(y))

    while len(clusters) > 1:
        pairs = [(link(clusters[i], clusters[j]), i, j) for i in range(len(clusters)) for j in range(i + 1, len(clusters))]
        best, i, j = max(pairs)
        if best < threshold:
            break
        clusters[i] = clusters[i] + clusters[j]
        del clusters[j]
    return {"+".join(c): c for c in clusters}


def grouping_report(groups: dict[str, list[str]], sim: dict[str, dict[str, float]] | None, how: str,
                    threshold: float) -> dict[str, Any]:
    report: dict[str, Any] = {"how": how, "groups": groups}
    if sim is not None:
        report.update(threshold=threshold, similarity=sim,
                      intra_group={g: min((sim[a][b] for a in m for b in m), default=1.0) for g, m in groups.items()})
    return report
