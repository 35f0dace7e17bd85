"""Scoring the real public data against its own gold answers.

GSM8K: the reference solution (with "####") against the number after "####" -> all
correct; with that number perturbed -> all wrong. Minerva: the reference solution against
its \\boxed{} content -> agreement >= 0.97 (the failures are listed); perturbed numeric golds
-> wrong. AMC23 / AIME24: "... Answer: {answer}" -> all correct.
"""
import json
import re
from fractions import Fraction

import pytest

from rlvr.paths import DATASETS_DIR
from verifiers import get_verifier
from verifiers.math.extract import boxed_contents
from verifiers.math.normalize import parse_number


@pytest.fixture(scope="module")
def math_v():
    verifier = get_verifier("math")
    verifier.warmup()
    yield verifier
    verifier.close()


def load(name):
    path = DATASETS_DIR / "public" / name / "test.jsonl"  # the copies shipped with the project
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert rows, f"no rows in {path}"
    return rows


def perturb(literal: str) -> str:
    """Change the last digit of a number literal (keeping its format) so it is clearly wrong."""
    match = list(re.finditer(r"\d", literal.split("e")[0]))[-1]
    digit = int(match.group())
    return literal[: match.start()] + str((digit + 5) % 10) + literal[match.end():]


def test_gsm8k_solutions_match_their_gold(math_v):
    rows = load("gsm8k")
    assert len(rows) == 1319
    wrong, accepted_perturbed = [], []
    for i, row in enumerate(rows):
        gold = row["answer"].rsplit("####", 1)[1].strip()
        result = math_v(row["answer"], gold)
        if result.reward != 1.0:
            wrong.append((i, gold, result.details))
        bumped = str(Fraction(gold.replace(",", "")) + 1)
        if math_v(row["answer"], bumped).reward != 0.0:
            accepted_perturbed.append((i, gold, bumped))
    assert wrong == []
    assert accepted_perturbed == []


def test_minerva_solutions_match_their_boxed_answer(math_v):
    rows = load("minerva_math")
    failures, perturbed_accepted, numeric = [], [], 0
    for row in rows:
        gold = boxed_contents(row["solution"])[-1]
        result = math_v(row["solution"], gold)
        if result.reward != 1.0:
            failures.append((row["idx"], gold, result.details, result.error))
        if parse_number(gold.strip()) is not None:
            numeric += 1
            if math_v(row["solution"], perturb(gold.strip())).reward != 0.0:
                perturbed_accepted.append((gold, perturb(gold.strip())))
    agreement = 1 - len(failures) / len(rows)
    print(f"minerva_math agreement {agreement:.4f} over {len(rows)} rows; failures: {failures}")
    assert agreement >= 0.97, failures
    assert numeric > 150  # most Minerva answers are numbers: the perturbation check means something
    assert perturbed_accepted == []


@pytest.mark.parametrize("name, expected_rows", [("amc23", 40), ("aime24", 30)])
def test_competition_answers_match(math_v, name, expected_rows):
    rows = load(name)
    assert len(rows) == expected_rows
    failures = []
    for row in rows:
        response = f"We work through the problem carefully.\nAnswer: {row['answer']}"
        if math_v(response, row["answer"]).reward != 1.0:
            failures.append(row["answer"])
        if math_v(f"Answer: {int(float(row['answer'])) + 1}", row["answer"]).reward != 0.0:
            failures.append(("accepted off-by-one", row["answer"]))
    assert failures == []
