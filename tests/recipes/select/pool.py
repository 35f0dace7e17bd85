"""The candidate pool of the select tests, as the selector sees it (texts, word-count lengths) plus provenance."""
from __future__ import annotations

from rlvr.data.builtin import load_builtin
from rlvr.recipes.select.scorer import Source

POOL = {"web": ("web", 6000), "facts": ("math", 2500), "think": ("thinking", 3000), "qa": ("qa", 3000)}


def make_pool(sizes: dict[str, tuple[str, int]], seed: int = 0) -> tuple[list[Source], dict[str, list[bool]]]:
    arithmetic = load_builtin("arithmetic")
    sources, defects = [], {}
    for name, (category, n) in sizes.items():
        docs = arithmetic.pool_documents(name, n, seed)
        sources.append(Source(name, category, [d["text"] for d in docs], [len(d["text"].split()) + 1 for d in docs]))
        defects[name] = [d["defect"] for d in docs]
    return sources, defects
