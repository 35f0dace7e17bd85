"""The long-response task: determinism, split hygiene, solution lengths in the tiny tokenizer, the verifier's
verdicts on written solutions, and the designed flaws of the base corpus (loops and runaways)."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from rlvr.algorithms.repetition import loop_fraction
from rlvr.config import BaseModelConfig
from rlvr.data.builtin import list_builtin, load_builtin
from rlvr.data.prompts import load_prompts
from rlvr.models.tokenizer import train_tokenizer
from verifiers import get_verifier

multi = load_builtin("multistep")
STEP = re.compile(r"Step (\d+): (add|subtract|multiply by|divide by) (\d+)\. (\d+) ([-+*/]) (\d+) = (\d+)\.")


def _ops(row: dict) -> list[tuple[str, int]]:
    return [(op, k) for op, k in row["ops"]]


@pytest.fixture(scope="module")
def tokenizer():
    # the tiny base's tokenizer recipe (rlvr/pretrain.py): BPE trained on the task's pretraining corpus
    return train_tokenizer(multi.pretrain_corpus(1500, seed=0), vocab_size=BaseModelConfig().vocab_size)


def test_registered_as_a_builtin_and_loaded_as_prompts():
    assert "multistep" in list_builtin()
    rows = load_prompts("multistep", "eval", 5, seed=1)
    assert [r.ground_truth for r in rows] == [r["answer"] for r in multi.generate("eval", 5, 1)]
    assert all(r.verifier == "math" and r.prompt.endswith("\nSolution:") for r in rows)


def test_generate_is_deterministic_and_seed_dependent():
    first = multi.generate("train", 40, seed=3)
    assert first == multi.generate("train", 40, seed=3)
    assert first != multi.generate("train", 40, seed=4)
    assert multi.generate("eval", 60, seed=1)[:30] == multi.generate("eval", 30, seed=1)
    assert multi.pretrain_corpus(30, seed=2) == multi.pretrain_corpus(30, seed=2)
    assert multi.pretrain_corpus(30, seed=2) != multi.pretrain_corpus(30, seed=3)


def test_train_and_eval_never_share_an_instance():
    key = lambda r: (r["start"], tuple(map(tuple, r["ops"])))  # noqa: E731
    train = {key(r) for r in multi.generate("train", 2000, seed=0)}
    evaluation = {key(r) for r in multi.generate("eval", 500, seed=0)}
    assert len(evaluation) == 500 and not train & evaluation
    assert all(multi.split_of(*k) == "eval" for k in evaluation)


def test_answers_follow_the_chain_and_stay_in_range():
    rows = multi.generate("eval", 300, seed=7)
    assert Counter(r["steps"] for r in rows).keys() == set(range(multi.MIN_STEPS, multi.MAX_STEPS + 1))
    for row in rows:
        value = row["start"]
        for i, (op, k) in enumerate(row["ops"], 1):
            value = {"add": value + k, "subtract": value - k, "multiply": value * k, "divide": value / k}[op]
            assert value == int(value) and 0 <= value <= multi.MAX_VALUE
            assert f"({i}) " in row["question"]
        assert int(row["answer"]) == value and row["id"]


def test_bad_split_and_n_are_rejected():
    with pytest.raises(ValueError, match="split 'test'"):
        multi.generate("test", 3, 0)
    with pytest.raises(ValueError, match="n must be"):
        multi.generate("train", -1, 0)
    with pytest.raises(ValueError, match="outside"):
        multi.apply("subtract", 3, 5)


def test_solution_lengths_in_the_tiny_tokenizer(tokenizer):
    rows = multi.generate("eval", 400, seed=0)
    lengths = [len(tokenizer(multi.solution(r["start"], _ops(r)), add_special_tokens=False)["input_ids"])
               for r in rows]
    prompts = [len(tokenizer(multi.format_prompt(r), add_special_tokens=False)["input_ids"]) for r in rows]
    lengths.sort()
    assert 100 <= lengths[0] and lengths[-1] <= 420  # the task's contract: 100-400 tokens (a little slack)
    assert 200 <= lengths[len(lengths) // 2] <= 290  # median near the middle of the range
    # experiment/long_response.yaml: a 448-token budget holds every solution, 768 positions prompt + budget
    assert lengths[-1] < 448 and max(prompts) + 448 <= 768


def test_verifier_agrees_with_written_solutions():
    verifier = get_verifier("math")
    for row in multi.generate("eval", 60, seed=2):
        text = multi.solution(row["start"], _ops(row))
        assert multi.extract_answer(text) == row["answer"]
        assert verifier(text, row["answer"]).correct
        wrong = text.rsplit("Answer: ", 1)[0] + f"Answer: {int(row['answer']) + 1}"
        assert not verifier(wrong, row["answer"]).correct
        lines = text.strip().splitlines()
        assert len(lines) == row["steps"] + 1 and all(stop not in text for stop in multi.STOP)
        for line in lines[:-1]:
            m = STEP.fullmatch(line)
            assert m and multi.apply(m[2].split()[0], int(m[4]), int(m[6])) == int(m[7])


def test_pretrain_corpus_loops_and_runaways_are_as_designed(tokenizer):
    docs = multi.pretrain_documents(3000, seed=0)
    assert [d["text"] for d in docs] == multi.pretrain_corpus(3000, seed=0)
    kinds = Counter(d["kind"] for d in docs)
    assert abs(kinds["problem"] / len(docs) - multi.PRETRAIN_MIX["problem"]) < 0.03
    problems = [d for d in docs if d["kind"] == "problem"]
    flaws = Counter(d["flaw"] for d in problems)
    assert abs(flaws["stuck"] / len(problems) - multi.STUCK_RATE) < 0.03
    assert abs(flaws["runaway"] / len(problems) - multi.RUNAWAY_RATE) < 0.03
    for doc in problems[:300]:
        solution = doc["text"].split("\nSolution:", 1)[1]
        ids = tokenizer(solution, add_special_tokens=False)["input_ids"]
        steps = [int(m[1]) for m in STEP.finditer(solution)]
        if doc["flaw"] == "stuck":  # ends inside a loop the repetition detector finds, with no answer
            assert "Answer:" not in solution and loop_fraction(ids) >= 0.1
            assert steps[-1] == steps[-2] == steps[-3]
        elif doc["flaw"] == "runaway":  # past the question's last step, no answer
            assert "Answer:" not in solution and steps[-1] > doc["steps"]
            assert steps == list(range(1, len(steps) + 1))
        else:  # a clean solution: every step once, the answer last, no trailing loop to speak of
            assert steps == list(range(1, doc["steps"] + 1)) and solution.endswith(f"Answer: {doc['answer']}")
            assert loop_fraction(ids) < 0.05


def test_midtrain_corpus_is_clean():
    docs = multi.midtrain_documents(500, seed=1)
    assert not any(d["flaw"] for d in docs) and Counter(d["kind"] for d in docs)["problem"] > 350
    assert multi.midtrain_corpus(10, seed=1) == [d["text"] for d in docs[:10]]


def test_practice_sheets_are_always_right():
    seen = 0
    for doc in (d for d in multi.pretrain_documents(400, seed=5) if d["kind"] == "sheet"):
        for line in doc["text"].splitlines()[1:]:
            a, op, k, result = re.fullmatch(r"(\d+) ([-+*/]) (\d+) = (\d+)", line).groups()
            name = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[op]
            assert multi.apply(name, int(a), int(k)) == int(result)
            seen += 1
    assert seen > 500
