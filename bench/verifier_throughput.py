"""Verifier throughput: items/s for the math cascade, plain math-verify and the code sandbox.

    python bench/verifier_throughput.py [--items 1000] [--code-items 200] [--workers 2]

Math items are GSM8K-style responses built from the real GSM8K test solutions shipped in
datasets/public/gsm8k/test.jsonl (1,319 rows): the reference reasoning ending in one of several answer
formats ("#### N", "\\boxed{N}", "Answer: N" after <think>, a closing sentence), 30% of them
with a wrong final number. Each math row also reports accuracy against those known labels.
Code items are 200 small stdin/stdout programs, 25% of them wrong, scored through
``get_verifier("code")``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO / "datasets" / "public" / "gsm8k" / "test.jsonl"


def build_math_items(n: int, seed: int = 0) -> list[tuple[str, str, bool]]:
    """(response, gold, is_correct) triples from real GSM8K solutions."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    picked = rng.sample(rows, n)
    items = []
    for i, row in enumerate(picked):
        reasoning, gold = row["answer"].rsplit("####", 1)
        gold = gold.strip()
        correct = rng.random() >= 0.3
        value = gold if correct else str(int(gold.replace(",", "")) + rng.choice([1, 2, 10, -1]))
        style = i % 4
        if style == 0:
            response = f"{reasoning}#### {value}"
        elif style == 1:
            response = f"{reasoning}\nTherefore, the final answer is $\\boxed{{{value}}}$."
        elif style == 2:
            response = f"<think>\n{reasoning}</think>\nAnswer: {value}"
        else:
            response = f"{reasoning}\nSo the answer is {value}."
        items.append((response, gold, correct))
    return items


def build_code_items(n: int, seed: int = 0) -> list[tuple[str, dict[str, Any], bool]]:
    """Small programs with stdin/stdout tests; a quarter of them are subtly wrong."""
    rng = random.Random(seed)
    tasks: list[tuple[str, str, Callable[[int, int], str]]] = [
        ("a, b = map(int, input().split())\nprint(a + b)", "a, b = map(int, input().split())\nprint(a - b)",
         lambda a, b: str(a + b)),
        ("a, b = map(int, input().split())\nprint(a * b)", "a, b = map(int, input().split())\nprint(a * b + 1)",
         lambda a, b: str(a * b)),
        ("a, b = map(int, input().split())\nprint(max(a, b))", "a, b = map(int, input().split())\nprint(min(a, b))",
         lambda a, b: str(max(a, b))),
        ("a, b = map(int, input().split())\nprint(sum(range(a, b + 1)))",
         "a, b = map(int, input().split())\nprint(sum(range(a, b)))", lambda a, b: str(sum(range(a, b + 1)))),
    ]
    items = []
    for i in range(n):
        good, bad, expect = tasks[i % len(tasks)]
        tests = []
        for _ in range(3):
            a, b = rng.randint(1, 50), rng.randint(51, 100)
            tests.append({"stdin": f"{a} {b}\n", "stdout": expect(a, b) + "\n"})
        correct = rng.random() >= 0.25
        program = good if correct else bad
        response = f"Here is my solution.\n```python\n{program}\n```\n"
        items.append((response, {"tests": tests}, correct))
    return items


def time_it(fn: Callable[[Any, Any], bool], items: list[tuple[Any, Any, bool]]) -> tuple[float, float, int]:
    """(items/s, accuracy vs labels, errors)."""
    start = time.perf_counter()
    hits = errors = 0
    for response, gold, label in items:
        try:
            ok = fn(response, gold)
        except Exception:
            ok, errors = False, errors + 1
        hits += ok == label
    elapsed = time.perf_counter() - start
    return len(items) / elapsed, hits / len(items), errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--code-items", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="worker processes for the pool rows")
    args = ap.parse_args(argv)

    from verifiers import get_verifier
    from verifiers.pool import ScoreItem, VerifierPool

    math_items = build_math_items(args.items)
    rows: list[tuple[str, int, str, str, str]] = []

    cascade = get_verifier("math")
    cascade.warmup()
    rate, acc, err = time_it(lambda r, g: cascade(r, g).correct, math_items)
    rows.append(("math cascade (in-process)", len(math_items), f"{rate:,.0f}", f"{acc:.3f}", str(err)))
    cascade.close()

    from math_verify import parse, verify

    def plain(response: str, gold: str) -> bool:
        return bool(verify(parse(gold), parse(response)))

    rate, acc, err = time_it(plain, math_items)
    rows.append(("math-verify parse+verify", len(math_items), f"{rate:,.0f}", f"{acc:.3f}", str(err)))

    with VerifierPool(num_workers=args.workers, timeout_s=10) as pool:
        pool.score([ScoreItem("math", "\\boxed{1}", "1")] * args.workers)  # start and warm the workers
        start = time.perf_counter()
        results = pool.score([ScoreItem("math", r, g) for r, g, _ in math_items])
        rate = len(math_items) / (time.perf_counter() - start)
        acc = sum(res.correct == label for res, (_, _, label) in zip(results, math_items)) / len(math_items)
        rows.append((f"math cascade (pool, {args.workers} workers)", len(math_items), f"{rate:,.0f}",
                     f"{acc:.3f}", str(sum(r.error is not None for r in results))))

    code_items = build_code_items(args.code_items)
    try:
        code = get_verifier("code")
    except Exception as exc:  # the code verifier is optional for this benchmark
        rows.append(("code sandbox", len(code_items), "n/a", "n/a", f"unavailable: {type(exc).__name__}: {exc}"))
    else:
        rate, acc, err = time_it(lambda r, g: code(r, g).correct, code_items)
        rows.append(("code sandbox (in-process)", len(code_items), f"{rate:,.1f}", f"{acc:.3f}", str(err)))
        close = getattr(code, "close", None)
        if callable(close):
            close()

    header = ("verifier", "items", "items/s", "acc vs labels", "errors")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
