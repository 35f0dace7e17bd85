"""Seeded hostile inputs for every built-in verifier (tests/verifiers/test_fuzz.py, bench/verifier_fuzz.py).

What a policy, a broken data set or an attacker can hand a verifier: random and adversarial unicode
(lone surrogates, bidi overrides, zero-width and combining marks, NULs, homoglyph digits), megabyte
responses, deeply nested LaTeX and brackets, towers of exponents (9^9^9^9) and factorials, and ground
truths of the wrong type or shape (None, numbers, NaN, lists, bytes, JSON of the wrong structure,
kwargs out of range). `hostile_items(verifier, n, seed)` is a pure function of its arguments.
"""
from __future__ import annotations

import json
import math
import random
from typing import Any, Callable

from verifiers.pool import ScoreItem

BUILTIN_VERIFIERS = ("math", "code", "ifeval", "random", "format")

ADVERSARIAL = [
    "\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\ufeff", "\x00", "\u2028", "\u2029", "\r", "\x1b[2J",
    "\ud800", "\udfff", "\U0001f469\u200d\U0001f4bb", "\u0301" * 50, "\uff19", "\U0001d7d7", "\u00b2", "\u2155",
    "\u0660\u0661", "\u221e", "\u2212", "\u00a0", "\u3000", "\U000e0041", "\uffff", "\U0010ffff", "ﷺ", "Ꙭ",
]
HUGE_MATH = [
    r"9^{9^{9^9}}", "9^9^9^9", r"10^{10^{100}}", "1e999999999", r"2^{2^{2^{2^{2^{2}}}}}", r"99999999!",
    r"(10^{100})!", r"\underbrace{9^{9^{\cdots}}}", "9" * 5000, "1/" + "0" * 3000, r"\sqrt[10^{9}]{2}",
    r"\int_0^\infty e^{x^{x^x}}\,dx", r"\sum_{n=1}^{10^{12}} n^{n}", "x" * 4000 + "^2", r"\frac{1}{0}",
    r"0^0", r"\infty - \infty", "NaN", "-0", r"\pm\infty", r"e^{i\pi}+1", r"\binom{10^{9}}{5\cdot 10^{8}}",
]


def random_unicode(rng: random.Random, n: int) -> str:
    """`n` code points from the whole range, surrogates and unassigned ones included."""
    return "".join(chr(rng.choice((rng.randrange(0x20, 0x7f), rng.randrange(0x80, 0x3000),
                                   rng.randrange(0xd800, 0xe000), rng.randrange(0x10000, 0x110000))))
                   for _ in range(n))


def adversarial_text(rng: random.Random) -> str:
    parts = [rng.choice(ADVERSARIAL) for _ in range(rng.randrange(1, 20))]
    core = rng.choice(["\\boxed{42}", "42", "The answer is 7.", "<think>x</think> 3", "```python\nprint(1)\n```"])
    parts.insert(rng.randrange(len(parts) + 1), core)
    return "".join(parts)


def nested_latex(rng: random.Random) -> str:
    depth = rng.choice([50, 500, 5000, 20000])
    opener = rng.choice([r"\frac{1}{", r"\sqrt{", r"\boxed{", "{", "(", "[", r"\left(", "2^{", r"\text{", "$"])
    closer = {"(": ")", "[": "]", r"\left(": r"\right)", "$": "$"}.get(opener, "}")
    closed = rng.random() < 0.5
    return opener * depth + "1" + (closer * depth if closed else "")


def megabyte(rng: random.Random) -> str:
    size = rng.choice([2**20, 2**21])
    unit = rng.choice(["a", "1", " ", "\n", "\\boxed{1}", "$x$", "{", "9^", "```", "<think>", "**", "Answer: 1\n",
                       "\u0301", "é", "😀"])
    return (unit * (size // len(unit) + 1))[:size]


def huge_number_text(rng: random.Random) -> str:
    expr = rng.choice(HUGE_MATH)
    return rng.choice([f"\\boxed{{{expr}}}", f"The answer is {expr}", f"Answer: ${expr}$", f"#### {expr}", expr])


RESPONSES: list[Callable[[random.Random], str]] = [
    lambda rng: random_unicode(rng, rng.choice([1, 10, 200, 5000])),
    adversarial_text, nested_latex, megabyte, huge_number_text,
    lambda rng: "",
    lambda rng: "<think>" * rng.randrange(1, 1000) + "</think>" * rng.randrange(0, 1000) + "\\boxed{1}",
    lambda rng: "\\boxed{" + "\\boxed{}" * rng.randrange(1, 20000) + "}",
    lambda rng: " or ".join(f"\\boxed{{{rng.randrange(10**6)}}}" for _ in range(rng.randrange(1, 3000))),
]


def wrong_type(rng: random.Random) -> Any:
    return rng.choice([
        None, 0, -1, 10**5000, 1.5, math.nan, math.inf, -math.inf, True, [], [1, [2, [3]]], {}, {"a": None},
        b"\xff\xfe", bytearray(b"42"), (1, 2), {1, 2}, 3 + 4j, "", " ", "null", "[]", "{}", "{\"a\":", "\x00",
        random_unicode(rng, 50), "9" * 100_000, json.dumps({"x": [None] * 1000}), [None] * 10_000,
    ])


def math_truth(rng: random.Random) -> Any:
    if rng.random() < 0.4:
        return wrong_type(rng)
    return rng.choice(["42", "\\frac{1}{2}", "x \\ge 5", "(1, 2)", "\\{1,2,3\\}", "B", "50%", "2\\pi", "3.14",
                       rng.choice(HUGE_MATH), nested_latex(rng)[:20_000], adversarial_text(rng)])


def code_truth(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.4:
        return wrong_type(rng)
    if roll < 0.6:
        return json.dumps(rng.choice([{"tests": "x"}, {"tests": [1, 2]}, {"asserts": [None]}, {"asserts": ["assert ("]},
                                      {"tests": [{"stdin": 1}]}, {"tests": []}, {"setup": 5, "asserts": ["assert 1"]},
                                      {"tests": [{"stdin": "\x00" * 100, "stdout": "\ud800"}]}]))
    return {"tests": [{"stdin": "1 2\n", "stdout": "3\n"}]}


CODE_PROGRAMS = [
    "print(sum(map(int, input().split())))", "while True: pass", "print('x' * 10**8)", "import os; os.fork()",
    "raise SystemExit(3)", "a = [0] * 10**10", "import sys; sys.setrecursionlimit(10**6)\ndef f(n): return f(n+1)\nf(0)",
    "print('\\ud800')", "exec('(' * 1000 + ')' * 1000)", "",
]


def code_response(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(RESPONSES)(rng)
    program = rng.choice(CODE_PROGRAMS)
    fence = rng.choice(["```python\n{}\n```", "```\n{}\n```", "```python\n{}", "```py\n```python\n{}\n```\n```"])
    return fence.format(program)


def ifeval_truth(rng: random.Random) -> Any:
    from verifiers.ifeval.verifier import INSTRUCTIONS

    if rng.random() < 0.3:
        return wrong_type(rng)
    ids = rng.sample(sorted(INSTRUCTIONS), rng.randrange(1, 4))
    kwargs = [{name: _hostile_param(rng, param.kind) for name, param in INSTRUCTIONS[i].params.items()
               if rng.random() < 0.9} for i in ids]
    truth: dict[str, Any] = {"instruction_id_list": ids, "kwargs": kwargs}
    if rng.random() < 0.5:
        return truth
    try:
        return json.dumps(truth, default=repr)  # the same as JSON text
    except ValueError:  # an int too long to print (10**5000): the object itself
        return truth


def _hostile_param(rng: random.Random, kind: str) -> Any:
    if rng.random() < 0.3:
        return wrong_type(rng)
    if kind == "int":
        return rng.choice([0, 1, 3, -1, 10**9, 10**30, 2**63])
    if kind == "relation":
        return rng.choice(["less than", "at least", "at most", "more than", "equal", "", "≥"])
    if kind == "letter":
        return rng.choice(["a", "Z", "é", "ab", "", "\u0301", "1"])
    if kind == "language":
        return rng.choice(["en", "fr", "zz", "", "EN", "🏳"])
    if kind == "str_list":
        return [adversarial_text(rng)[:50] for _ in range(rng.randrange(0, 5))] + [rng.choice(["", ".*", "(a+)+$"])]
    return rng.choice([adversarial_text(rng), "", ".*", "(a+)+$", "\\", "x" * 100_000, random_unicode(rng, 30)])


def metadata(rng: random.Random) -> dict[str, Any] | None:
    return rng.choice([None, {}, {"round_to": rng.choice([2, -1, 10**9, "abc", None, 1.5, math.nan])},
                       {"sample_id": rng.choice([0, None, "x", [1], 10**100])}, {"\x00": object.__name__}])


TRUTHS: dict[str, Callable[[random.Random], Any]] = {
    "math": math_truth, "code": code_truth, "ifeval": ifeval_truth, "random": wrong_type, "format": wrong_type,
}


def hostile_items(verifier: str, n: int, seed: int = 0) -> list[ScoreItem]:
    """`n` hostile ScoreItems for `verifier` (one of BUILTIN_VERIFIERS), the same for the same seed."""
    rng = random.Random(f"{verifier}:{seed}")
    items = []
    for _ in range(n):
        response = code_response(rng) if verifier == "code" else rng.choice(RESPONSES)(rng)
        prompt = rng.choice([None, "", adversarial_text(rng), "Round to the nearest hundredth. " * 1000])
        items.append(ScoreItem(verifier, response, TRUTHS[verifier](rng), prompt, metadata(rng)))
    return items
