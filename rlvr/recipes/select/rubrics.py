"""The registry of candidate rubric dimensions the teacher proposes, and their anchored levels 0-4.

Each dimension is a judge over parsed documents (judges.py, or the model judge) with written anchors.
Raw values in [0, 1] become levels round(4 * value); a dimension that does not apply to a document gives it
the middle level 2 (no evidence either way), so a fact sheet is neither rewarded nor punished by a
word-problem dimension. Discovery (discover.py) then keeps, per group, the dimensions that vary there,
repeat reliably and say something the kept ones do not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from rlvr.recipes.select import judges
from rlvr.recipes.select.judges import Parsed

Values = list[Optional[float]]
NOT_APPLICABLE_LEVEL = 2


@dataclass(frozen=True)
class Dimension:
    name: str
    judge: Callable[[Sequence[Parsed], int], Values]  # (documents, seed) -> value in [0, 1] or None per document
    anchors: str  # what levels 0 and 4 mean
    stochastic: bool = False  # a repeat with another seed may disagree (reliability is measured, not assumed)
    teacher: str = "rules"  # rules | model


def _rule(fn: Callable[[Parsed], Optional[float]]) -> Callable[[Sequence[Parsed], int], Values]:
    return lambda docs, seed: [fn(p) for p in docs]


RULE_DIMENSIONS = (
    Dimension("trace_consistent", _rule(judges.trace_consistent),
              "0: the final line contradicts the <think> trace; 4: the final line follows from it"),
    Dimension("equation_correct", _rule(judges.equation_correct),
              "0: no equation is right; 4: every equation is right"),
    Dimension("answer_correct", _rule(judges.answer_correct),
              "0: the final answer is wrong (math verifier); 4: it is right"),
    Dimension("operation_matches", _rule(judges.operation_matches),
              "0: the solution uses an operation the question does not call for; 4: the one it needs"),
    Dimension("on_topic", _rule(judges.on_topic),
              "0: filler, no equation, fact, question or answer; 4: every line carries one"),
    Dimension("equation_spot_check", lambda docs, seed: [judges.equation_spot_check(p, seed) for p in docs],
              "0: the equation checked is wrong; 4: it is right (one equation drawn per call)", stochastic=True),
    Dimension("not_repetitive", _rule(judges.not_repetitive),
              "0: the document is one repeated loop; 4: no trailing repetition"),
    Dimension("format_ok", _rule(judges.format_ok),
              "0: a question without a final 'Answer: N' line; 4: it ends with one"),
)


def registry(model_judge: Optional[Dimension] = None) -> list[Dimension]:
    """The candidate dimensions in priority order (an earlier one wins a redundancy tie)."""
    dims = list(RULE_DIMENSIONS)
    if model_judge is not None:
        dims.insert(4, model_judge)
    return dims


def level(value: Optional[float]) -> int:
    return NOT_APPLICABLE_LEVEL if value is None else int(round(4 * min(1.0, max(0.0, value))))
