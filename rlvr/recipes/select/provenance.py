"""Provenance of a candidate pool, for EVALUATING a selection only (defect rates, the oracle arm).

A builtin source `NAME:pool_SOURCE` whose dataset module defines `pool_documents(source, n, seed)` (the
arithmetic pool, datasets/arithmetic.py) is regenerated with its provenance; the texts must be the very
texts the selector read. Other sources have no provenance (None). Nothing here reaches the selector's arms
other than the oracle.
"""
from __future__ import annotations

from typing import Optional, Sequence

from rlvr.data.builtin import find_builtin, load_builtin
from rlvr.recipes.config import RecipeError
from rlvr.recipes.mix import SourceSpec


def pool_defects(spec: SourceSpec, seed: int, texts: Sequence[str]) -> Optional[list[bool]]:
    """Per document, whether it carries its source's planted defect; None when the source has no provenance."""
    if spec.kind != "builtin" or spec.join != 1:
        return None
    name, _, what = spec.location.partition(":")
    if not what.startswith("pool_") or find_builtin(name) is None:
        return None
    make = getattr(load_builtin(name), "pool_documents", None)
    if make is None:
        return None
    docs = make(what[len("pool_"):], len(texts), seed)
    if [d["text"] for d in docs] != list(texts):
        raise RecipeError(f"{spec.where}: the provenance of {spec.location} does not match the texts the selector "
                          "read (a generator changed?)")
    return [bool(d["defect"]) for d in docs]
