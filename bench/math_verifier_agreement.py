"""Math verifier agreement: the cascade against plain math-verify on three sets of verdicts.

    python bench/math_verifier_agreement.py [--timeout 10] [--skip-public]

1. math-verify 0.9.0's own test verdicts (tests/verifiers/data/math_verify_cases.jsonl): rows where
   each verifier returns the expected verdict, over all rows and without the cascade's deliberate
   differences (tests/verifiers/data/math_verify_deliberate.json).
2. GSM8K test (1,319 reference solutions ending "#### N"): accepted against N, and rejected against N+1.
3. Minerva MATH (272 reference solutions): accepted against their last \\boxed{} content, and numeric
   golds with the last digit changed rejected.

Plain math-verify is ``verify(parse(gold), parse(response))`` with default settings (a bare GSM8K or
Minerva gold is passed as ``$gold$``: its LaTeX extraction needs delimiters).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verifiers.math import MathVerifier  # noqa: E402  (after the path insert)
from verifiers.math.extract import boxed_contents  # noqa: E402
from verifiers.math.normalize import parse_number  # noqa: E402

SUITE = REPO / "tests" / "verifiers" / "data"
PUBLIC = REPO / "datasets" / "public"


def plain(gold: str, response: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(gold), parse(response)))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def suite(cascade: MathVerifier) -> None:
    rows = read_jsonl(SUITE / "math_verify_cases.jsonl")
    deliberate = set(json.loads((SUITE / "math_verify_deliberate.json").read_text(encoding="utf-8")))
    counts = {"all": [0, 0, 0], "kept": [0, 0, 0]}
    for row in rows:
        mv = int(plain(row["gold"], row["pred"])) == row["expected"]
        ours = int(cascade(row["pred"], row["gold"]).correct) == row["expected"]
        for key in ("all", "kept") if row["source"] not in deliberate else ("all",):
            counts[key][0] += 1
            counts[key][1] += ours
            counts[key][2] += mv
    for key, label in (("all", "all rows"), ("kept", "without deliberate differences")):
        n, ours, mv = counts[key]
        print(f"math-verify suite, {label}: {n} rows; cascade agrees {ours}, plain math-verify {mv}")


def perturb(literal: str) -> str:
    match = list(re.finditer(r"\d", literal.split("e")[0]))[-1]
    return literal[: match.start()] + str((int(match.group()) + 5) % 10) + literal[match.end():]


def public(cascade: MathVerifier) -> None:
    sets = []
    for row in read_jsonl(PUBLIC / "gsm8k" / "test.jsonl"):
        gold = row["answer"].rsplit("####", 1)[1].strip()
        sets.append(("gsm8k", row["answer"], gold, str(Fraction(gold.replace(",", "")) + 1)))
    for row in read_jsonl(PUBLIC / "minerva_math" / "test.jsonl"):
        gold = boxed_contents(row["solution"])[-1]
        wrong = perturb(gold.strip()) if parse_number(gold.strip()) is not None else None
        sets.append(("minerva_math", row["solution"], gold, wrong))
    for name in ("gsm8k", "minerva_math"):
        items = [s for s in sets if s[0] == name]
        ours = sum(cascade(resp, gold).correct for _, resp, gold, _ in items)
        # A bare gold is given to math-verify in $...$, as its LaTeX extraction expects delimiters.
        mv = sum(plain(f"${gold}$", resp) for _, resp, gold, _ in items)
        wrong = [(resp, w) for _, resp, _, w in items if w is not None]
        ours_rej = sum(not cascade(resp, w).correct for resp, w in wrong)
        mv_rej = sum(not plain(f"${w}$", resp) for resp, w in wrong)
        print(f"{name}: {len(items)} reference solutions; accepted: cascade {ours} ({ours / len(items):.4f}), "
              f"plain math-verify {mv} ({mv / len(items):.4f}); perturbed gold rejected: cascade {ours_rej}/{len(wrong)}, "
              f"plain math-verify {mv_rej}/{len(wrong)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=10.0, help="cascade symbolic budget (s); verdicts, not speed")
    parser.add_argument("--skip-public", action="store_true", help="only the math-verify suite")
    args = parser.parse_args()
    cascade = MathVerifier(timeout_s=args.timeout)
    cascade.warmup()
    start = time.monotonic()
    try:
        suite(cascade)
        if not args.skip_public:
            public(cascade)
    finally:
        cascade.close()
    print(f"({time.monotonic() - start:.0f}s)")


if __name__ == "__main__":
    main()
