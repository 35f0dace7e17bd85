"""The candidate pool (datasets/arithmetic.py): a defect of its own kind per source, deterministic, and
provenance apart from the text."""
from __future__ import annotations

import pytest

from rlvr.data.builtin import load_builtin
from rlvr.recipes.select.judges import equation_right, parse

arithmetic = load_builtin("arithmetic")


def test_each_source_has_its_own_defect_at_the_planted_rate():
    kinds = {}
    for source in arithmetic.POOL_SOURCES:
        docs = arithmetic.pool_documents(source, 2000, 0)
        rate = sum(d["defect"] for d in docs) / len(docs)
        assert 0.18 <= rate <= 0.36, (source, rate)
        kinds[source] = {d["defect_kind"] for d in docs if d["defect"]}
    assert kinds == {"web": {"wrong operation"}, "facts": {"misaligned results"},
                     "think": {"final line contradicts the rationale"}, "qa": {"wrong answer"}}


def test_defects_are_what_they_say():
    facts = arithmetic.pool_documents("facts", 300, 1)
    for d in facts:
        wrong = [not equation_right(eq) for eq in parse(d["text"]).equations]
        assert (any(wrong) or "#REF!" in d["text"]) == d["defect"]
    for d in arithmetic.pool_documents("think", 300, 1):
        p = parse(d["text"])
        assert (p.think[-1][1] != p.final_op) == d["defect"]


def test_same_seed_same_pool_other_seed_other_pool():
    assert arithmetic.pool_qa_corpus(50, 3) == arithmetic.pool_qa_corpus(50, 3)
    assert arithmetic.pool_qa_corpus(50, 3) != arithmetic.pool_qa_corpus(50, 4)
    assert arithmetic.pool_web_corpus(20, 0) == [d["text"] for d in arithmetic.pool_documents("web", 20, 0)]


def test_pool_documents_names_a_bad_source():
    with pytest.raises(ValueError, match="unknown pool source 'code'"):
        arithmetic.pool_documents("code", 3, 0)
