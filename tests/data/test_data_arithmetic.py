"""The synthetic arithmetic task: determinism, split hygiene, correct answers, and the designed corpus noise."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from rlvr.data.builtin import load_builtin

arith = load_builtin("arithmetic")

SOLUTION = re.compile(r"Solution:(?: [^\n]*?\.)? (\d+) ([-+*/]) (\d+) = (\d+)\nAnswer: (\d+)$")


def test_generate_is_deterministic_and_seed_dependent():
    first = arith.generate("train", 50, seed=3)
    assert first == arith.generate("train", 50, seed=3)
    assert first != arith.generate("train", 50, seed=4)
    # a longer draw starts with the shorter one, so n never reshuffles earlier rows
    assert arith.generate("eval", 80, seed=1)[:40] == arith.generate("eval", 40, seed=1)


def test_train_and_eval_never_share_an_instance():
    key = lambda r: (r["template"], tuple(r["operands"]))  # noqa: E731
    train = {key(r) for r in arith.generate("train", 3000, seed=0)}
    evaluation = {key(r) for r in arith.generate("eval", 1000, seed=0)}
    assert train and evaluation and not train & evaluation
    for template in arith.TEMPLATES:
        pools = set(arith.instances(template, "train")), set(arith.instances(template, "eval"))
        assert pools[0].isdisjoint(pools[1]) and len(pools[1]) >= 15


def test_every_answer_is_right_for_its_template():
    rows = arith.generate("eval", 400, seed=7) + arith.generate("train", 400, seed=7)
    assert Counter(r["template"] for r in rows[:400]) == {t: 50 for t in arith.TEMPLATES}
    for row in rows:
        op = arith.TEMPLATES[row["template"]][0]
        a, b = row["operands"]
        expected = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]
        assert int(row["answer"]) == expected and 0 <= expected <= 144
        assert f" {a} " in f" {row['question']} " and f" {b} " in f" {row['question']} "
        assert row["verifier"] == "math" and row["id"]


def test_bad_split_and_n_are_rejected():
    with pytest.raises(ValueError, match="split 'test'"):
        arith.generate("test", 3, 0)
    with pytest.raises(ValueError, match="n must be"):
        arith.generate("train", -1, 0)


def test_prompt_and_answer_rule():
    row = arith.generate("eval", 1, 0)[0]
    prompt = arith.format_prompt(row)
    assert prompt.endswith(f"Question: {row['question']}\nSolution:")
    assert "<|" not in prompt  # RL-Zero prompts carry no chat tokens
    assert arith.solution(7, 5, "+") == " 7 + 5 = 12\nAnswer: 12"
    assert arith.extract_answer(" 7 + 5 = 12\nAnswer: 12") == "12"
    assert arith.extract_answer(" 7 + 5 = 12 and more 13") == "13"  # no Answer line: last number
    assert arith.extract_answer("no digits") is None
    assert arith.is_correct(" 3 * 4 = 12\nAnswer: 12.0", "12") and not arith.is_correct("Answer: 11", "12")
    assert all(stop not in arith.solution(12, 3, "/") for stop in arith.STOP)


def _parse(text: str):
    match = SOLUTION.search(text)
    assert match, text
    a, op, b, result, answer = match.groups()
    assert result == answer and int(result) == arith.apply(op, int(a), int(b))
    return op, (int(a), int(b))


def test_pretrain_corpus_noise_is_as_designed():
    docs = arith.pretrain_documents(6000, seed=0)
    assert [d["text"] for d in docs] == arith.pretrain_corpus(6000, seed=0)
    kinds = Counter(d["kind"] for d in docs)
    for kind, share in arith.PRETRAIN_MIX.items():
        assert abs(kinds[kind] / len(docs) - share) < 0.03
    wrong_by_template = Counter()
    total_by_template = Counter()
    for doc in (d for d in docs if d["kind"] == "problem"):
        op, operands = _parse(doc["text"])
        right = arith.TEMPLATES[doc["template"]][0]
        assert doc["wrong"] == (op != right)
        if doc["wrong"]:
            assert op == arith.NOISY_TEMPLATES[doc["template"]]  # consistent wrong operation
        # word problems only ever use training instances
        assert arith.split_of(doc["template"], *operands) == "train"
        wrong_by_template[doc["template"]] += doc["wrong"]
        total_by_template[doc["template"]] += 1
    for template, total in total_by_template.items():
        rate = wrong_by_template[template] / total
        expected = arith.NOISE_RATE if template in arith.NOISY_TEMPLATES else 0.0
        assert abs(rate - expected) < 0.08, (template, rate)


def test_midtrain_corpus_is_clean_and_has_rationales():
    docs = arith.midtrain_documents(1500, seed=2)
    problems = [d for d in docs if d["kind"] == "problem"]
    assert problems and not any(d["wrong"] for d in problems)
    for doc in problems:
        assert _parse(doc["text"])[0] == arith.TEMPLATES[doc["template"]][0]
    worked = sum("Solution: " in d["text"] and not re.search(r"Solution: \d", d["text"]) for d in problems)
    assert abs(worked / len(problems) - arith.THINK_SHARE) < 0.08
    assert arith.midtrain_corpus(20, seed=2) == [d["text"] for d in arith.midtrain_documents(20, seed=2)]


def test_fact_sheets_are_always_right():
    sentence = re.compile(r"(?:The (sum|difference|product) of (\d+) and (\d+)|(\d+) divided by (\d+)) is (\d+)\.")
    ops = {"sum": "+", "difference": "-", "product": "*"}
    seen = 0
    for doc in arith.pretrain_documents(800, seed=5):
        if doc["kind"] != "facts":
            continue
        for line in doc["text"].splitlines()[1:]:
            if m := re.fullmatch(r"(\d+) ([-+*/]) (\d+) = (\d+)", line):
                assert arith.apply(m[2], int(m[1]), int(m[3])) == int(m[4])
            else:
                m = sentence.fullmatch(line)
                assert m, line
                op, a, b = (ops[m[1]], m[2], m[3]) if m[1] else ("/", m[4], m[5])
                assert arith.apply(op, int(a), int(b)) == int(m[6])
            seen += 1
    assert seen > 500
