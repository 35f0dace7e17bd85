"""A candidate pool from datasets/arithmetic.py and ONE selection run over it, shared by the select tests.

The selector gets only texts and word-count token lengths (Source); provenance ("defect") is kept apart
for the assertions, as the stage keeps it for evaluation only.
"""
from __future__ import annotations

from typing import Any

import pytest

from rlvr.recipes.config import SelectConfig
from rlvr.recipes.select.rubrics import registry
from rlvr.recipes.select.scorer import Source
from rlvr.recipes.select.selection import arm_stats, run_arms
from tests.recipes.select.pool import POOL, make_pool


@pytest.fixture(scope="package")
def pool() -> tuple[list[Source], dict[str, list[bool]]]:
    return make_pool(POOL)


@pytest.fixture(scope="package")
def selection(pool) -> dict[str, Any]:
    """MIRA, global, random and oracle arms at keep=0.5 over the pool, with per-arm stats."""
    sources, defects = pool
    cfg = SelectConfig()
    arms, report = run_arms(sources, lambda group: registry(), cfg, defects)
    return {"arms": {a.name: a for a in arms}, "report": report, "cfg": cfg,
            "stats": {a.name: arm_stats(a, sources, defects) for a in arms}}
