"""The rules teacher: programmatic judges that read ONLY a document's text (never a generator's fields).

They play the frontier teacher of MIRA with privileged world knowledge: they recognise the arithmetic
word-problem templates (datasets/arithmetic.py), recompute the right answer and check it with the `math`
verifier, check every equation, compare a <think> trace with the final line, and measure filler and
repetition. Each judge returns a value in [0, 1], or None when it does not apply to the document.
"""
from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from typing import Any

from rlvr.algorithms.repetition import loop_fraction
from rlvr.data.builtin import load_builtin
from verifiers.base import get_verifier

_EQUATION = re.compile(r"(-?\d+)\s*([+\-*/])\s*(-?\d+)\s*=\s*(-?\d+)")
_SENTENCE = [(re.compile(r"The sum of (\d+) and (\d+) is (-?\d+)\."), "+"),
             (re.compile(r"The difference of (\d+) and (\d+) is (-?\d+)\."), "-"),
             (re.compile(r"The product of (\d+) and (\d+) is (-?\d+)\."), "*"),
             (re.compile(r"(\d+) divided by (\d+) is (-?\d+)\."), "/")]
_ANSWER = re.compile(r"Answer:[^\S\n]*([^\n]*?)(-?\d+)[^\S\n]*(?:<\|im_end\|>)?$", re.M)  # the last number of the line
_QUESTION = [re.compile(r"Question:\s*(.+?)\n"), re.compile(r"<\|im_start\|>user\n(.+?)<\|im_end\|>")]
_THINK = re.compile(r"<think>(.*?)</think>(.*)", re.S)


@dataclass
class Parsed:
    """What the judges read off one document."""

    text: str
    question: str | None  # the word problem asked, if any
    template: str | None  # the arithmetic template it matches
    right: int | None  # the right answer to the question
    answer: str | None  # the document's final "Answer: N"
    equations: list[tuple[int, str, int, int]]  # every "a op b = r" (and sentence facts), in order
    final_op: str | None  # the operation of the last equation outside a <think> trace
    think: list[tuple[int, str, int, int]] | None  # the trace's equations (None: no trace)


@functools.lru_cache(maxsize=1)
def _world() -> tuple[Any, list[tuple[str, re.Pattern[str]]]]:
    arithmetic = load_builtin("arithmetic")
    patterns = []
    for name, (_, question, _) in arithmetic.TEMPLATES.items():
        rx = re.escape(question)
        for key, sub in (("n1", r"\w+"), ("n2", r"\w+"), ("p1", r"\w+"), ("obj", r"\w+"), ("a", r"(?P<a>\d+)"),
                         ("b", r"(?P<b>\d+)")):
            rx = rx.replace(re.escape("{" + key + "}"), sub, 1).replace(re.escape("{" + key + "}"), r"\w+")
        patterns.append((name, re.compile(rx)))
    return arithmetic, patterns


def equations(text: str) -> list[tuple[int, str, int, int]]:
    found = [(m.start(), (int(m[1]), m[2], int(m[3]), int(m[4]))) for m in _EQUATION.finditer(text)]
    for rx, op in _SENTENCE:
        found += [(m.start(), (int(m[1]), op, int(m[2]), int(m[3]))) for m in rx.finditer(text)]
    return [eq for _, eq in sorted(found)]


def equation_right(eq: tuple[int, str, int, int]) -> bool:
    a, op, b, r = eq
    arithmetic, _ = _world()
    try:
        return arithmetic.apply(op, a, b) == r
    except ValueError:
        return False


def parse(text: str) -> Parsed:
    arithmetic, patterns = _world()
    question = next((m[1] for rx in _QUESTION for m in [rx.search(text)] if m), None)
    template = right = None
    if question:
        for name, rx in patterns:
            m = rx.fullmatch(question.strip())
            if m:
                template = name
                right = arithmetic.apply(arithmetic.TEMPLATES[name][0], int(m["a"]), int(m["b"]))
                break
    think_match = _THINK.search(text)
    outside = think_match[2] if think_match else text
    answers = _ANSWER.findall(outside)
    final = equations(outside.split("Question:")[-1]) if question else []
    return Parsed(text=text, question=question, template=template, right=right,
                  answer=answers[-1][1] if answers else None, equations=equations(text),
                  final_op=final[-1][1] if final else None,
                  think=equations(think_match[1]) if think_match else None)


_MATH = None


def _math_verifier() -> Any:
    global _MATH
    if _MATH is None:
        _MATH = get_verifier("math")
    return _MATH


def answer_correct(p: Parsed) -> float | None:
    """The final answer against the recomputed right answer, scored by the `math` verifier."""
    if p.right is None or p.answer is None:
        return None
    return float(_math_verifier()(f"Answer: {p.answer}", str(p.right)).correct)


def operation_matches(p: Parsed) -> float | None:
    """The final equation uses the operation the question's template needs."""
    if p.template is None or p.final_op is None:
        return None
    arithmetic, _ = _world()
    return float(arithmetic.TEMPLATES[p.template][0] == p.final_op)


def equation_correct(p: Parsed) -> float | None:
    """Share of the document's equations that are arithmetically right."""
    if not p.equations:
        return None
    return sum(equation_right(eq) for eq in p.equations) / len(p.equations)


def equation_spot_check(p: Parsed, seed: int) -> float | None:
    """One equation drawn at random (a cheap, noisy judge: its repeats disagree where only some lines are wrong)."""
    if not p.equations:
        return None
    return float(equation_right(random.Random(f"{seed}/{p.text}").choice(p.equations)))


def trace_consistent(p: Parsed) -> float | None:
    """The <think> trace's last equation and the final line agree (same operation, same result as the answer)."""
    if not p.think or p.answer is None or p.final_op is None:
        return None
    _, op, _, result = p.think[-1]
    return float(op == p.final_op and str(result) == p.answer)


def on_topic(p: Parsed) -> float | None:
    """Share of the document's lines that carry an equation, a fact, a question or an answer (filler scores 0)."""
    lines = [line for line in p.text.splitlines() if line.strip()]
    if not lines:
        return None
    useful = sum(bool(equations(line) or _ANSWER.search(line) or "?" in line) for line in lines)
    return useful / len(lines)


def not_repetitive(p: Parsed) -> float | None:
    """1 minus the share of the document inside a trailing loop of repeated words (rlvr.algorithms.repetition)."""
    ids = [hash(w) for w in p.text.split()]
    return 1.0 - loop_fraction(ids) if ids else None


def format_ok(p: Parsed) -> float | None:
    """A document that asks a question ends with an "Answer: N" line."""
    if p.question is None:
        return None
    tail = p.text.replace("<|im_end|>", "").rstrip().splitlines()
    return float(bool(tail) and bool(re.fullmatch(r"Answer:\s*-?\d+", tail[-1].strip())))
