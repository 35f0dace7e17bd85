"""Automatic grouping clusters source centroids and recovers the planted source groups."""
from __future__ import annotations

from rlvr.recipes.config import SelectConfig
from rlvr.recipes.select.grouping import category_groups
from rlvr.recipes.select.selection import find_groups

from tests.recipes.select.pool import make_pool


def test_auto_grouping_recovers_planted_groups():
    # Two sources of each of three kinds (different seeds, different names) and one lone source.
    sources = []
    for seed, tag in ((0, "a"), (1, "b")):
        pool, _ = make_pool({"web": ("", 300), "facts": ("", 300), "think": ("", 300)}, seed=seed)
        for s in pool:
            s.name = f"{s.name}_{tag}"
        sources += pool
    sources += make_pool({"qa": ("", 300)})[0]
    groups, report = find_groups(sources, SelectConfig(groups="auto", group_docs=128))
    found = sorted(sorted(m) for m in groups.values())
    assert found == [["facts_a", "facts_b"], ["qa"], ["think_a", "think_b"], ["web_a", "web_b"]]
    sim = report["similarity"]
    assert report["how"] == "auto" and sim["web_a"]["web_b"] >= report["threshold"] > sim["web_a"]["facts_a"]
    assert all(v >= report["threshold"] for v in report["intra_group"].values())


def test_category_groups_follow_the_mix_and_a_source_without_one_stands_alone():
    assert category_groups(["a", "b", "c"], ["math", "math", ""]) == {"math": ["a", "b"], "c": ["c"]}
