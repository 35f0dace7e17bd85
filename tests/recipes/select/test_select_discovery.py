"""Rubric discovery keeps and drops dimensions per group, for the reason it states."""
from __future__ import annotations

from rlvr.recipes.config import SelectDiscoveryConfig
from rlvr.recipes.select.discover import discover
from rlvr.recipes.select.judges import parse
from rlvr.recipes.select.rubrics import Dimension, registry


def _groups(selection):
    return {g.group: g.rubric for g in selection["arms"]["mira"].groups}


def test_each_group_keeps_the_dimension_that_catches_its_own_defect(selection):
    rubrics = _groups(selection)
    assert "answer_correct" in rubrics["web"].kept  # wrong-operation word problems
    assert "equation_correct" in rubrics["math"].kept  # misaligned fact sheets
    assert "trace_consistent" in rubrics["thinking"].kept  # final line against the trace
    assert "answer_correct" in rubrics["qa"].kept  # wrong answers


def test_dropped_dimensions_carry_the_reason_that_applies_in_that_group(selection):
    rubrics = _groups(selection)
    # a word-problem judge on fact sheets: does not apply
    assert rubrics["math"].dropped["answer_correct"].startswith("applies to 0%")
    assert rubrics["web"].dropped["trace_consistent"].startswith("applies to 0%")
    # every equation in a QA answer is arithmetically right (the operation is what is wrong): constant
    assert rubrics["qa"].dropped["equation_correct"].startswith("does not vary")
    # one equation drawn at random disagrees with its repeat on partly misaligned sheets
    assert rubrics["math"].dropped["equation_spot_check"].startswith("unreliable on repeat")
    # on web docs, a wrong answer IS a wrong operation: the second adds nothing
    assert rubrics["web"].dropped["operation_matches"].startswith("redundant with answer_correct")
    assert rubrics["thinking"].dropped["answer_correct"].startswith("redundant with trace_consistent")
    for rubric in rubrics.values():
        assert set(rubric.kept).isdisjoint(rubric.dropped)
        assert set(rubric.kept) | set(rubric.dropped) == {d.name for d in registry()}


def test_max_dims_caps_the_rubric_with_a_reason(pool):
    sources, _ = pool
    docs = [parse(t) for t in sources[0].texts[:200]]
    rubric = discover("web", docs, registry(), SelectDiscoveryConfig(max_dims=1), seed=0)
    assert rubric.kept == ["answer_correct"]
    assert rubric.dropped["on_topic"] == "1 dimensions already kept"


def test_a_dimension_whose_repeats_disagree_is_dropped_as_unreliable():
    coin = Dimension("coin", lambda docs, seed: [float((seed + i) % 2) for i in range(len(docs))], "0/4: a coin",
                     stochastic=True)
    docs = [parse(f"{i} + 1 = {i + 1}") for i in range(40)]
    rubric = discover("g", docs, [coin], SelectDiscoveryConfig(), seed=0)
    assert rubric.kept == [] and rubric.dropped["coin"].startswith("unreliable on repeat")
