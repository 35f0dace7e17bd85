"""rlvr.evaluation, the one scorer: fake generators stand in for the engines; scoring is the real verifier pool."""
from __future__ import annotations

import pytest

from rlvr.data.prompts import load_prompt_set
from rlvr.evaluation import evaluate, sample_and_score, summarize
from verifiers.base import VerifierResult
from verifiers.pool import VerifierPool


class CharTokenizer:
    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[ord(c) for c in t] for t in texts]}


@pytest.fixture(scope="module")
def prompts():
    return load_prompt_set("arithmetic", "eval", 6, 0, CharTokenizer())


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(num_workers=1, timeout_s=20) as p:
        yield p


def test_metrics_from_a_fake_generator_scored_in_the_pool(prompts, pool):
    calls = []
    answers = {tuple(r.prompt_ids): r.ground_truth for r in prompts.rows}

    def generate(prompt_ids, n, temperature, max_tokens, stop, seed):
        calls.append((n, temperature, max_tokens, stop, seed))
        out = []
        for i, ids in enumerate(prompt_ids):
            right, wrong = f" Answer: {answers[tuple(ids)]}", " Answer: 100000"
            # prompt 0..1: both right; 2..3: one right (majority tie -> the first seen); 4..5: both wrong
            group = [right, right] if i < 2 else [right, wrong] if i < 4 else [wrong, wrong]
            out.append([(text, [1, 2, 3]) for text in group])
        return out

    metrics = evaluate(generate, prompts, samples=2, temperature=0.7, max_tokens=9, stop=["\n\n"], pool=pool, seed=5)
    assert calls == [(2, 0.7, 9, ["\n\n"], 5)]
    assert metrics["eval/accuracy"] == pytest.approx(6 / 12)
    assert metrics["eval/pass@2"] == pytest.approx(4 / 6)
    assert metrics["eval/maj@2"] == pytest.approx(4 / 6)
    assert metrics["eval/reward_mean"] == pytest.approx(6 / 12) and metrics["eval/errors"] == 0.0
    assert metrics["eval/response_chars_mean"] > 0


def test_each_row_is_scored_with_its_own_verifier_unless_overridden(prompts):
    class RecordingPool:
        def __init__(self):
            self.items = []

        def score(self, items):
            self.items += items
            return [VerifierResult(reward=1.0, correct=True, details={"extracted": "1"}) for _ in items]

    def generate(prompt_ids, n, temperature, max_tokens, stop, seed):
        return [[("x", [])] * n for _ in prompt_ids]

    recording = RecordingPool()
    scored = sample_and_score(generate, prompts, samples=3, temperature=0.0, max_tokens=4, stop=[], pool=recording,
                              seed=0)
    assert len(scored) == 18 and [s.row for s in scored[:3]] == [prompts.rows[0]] * 3
    assert {i.verifier for i in recording.items} == {"math"}
    assert [i.ground_truth for i in recording.items[::3]] == [r.ground_truth for r in prompts.rows]
    sample_and_score(generate, prompts, samples=1, temperature=0.0, max_tokens=4, stop=[], pool=recording, seed=0,
                     verifier_override="random")
    assert recording.items[-1].verifier == "random"
    assert summarize(scored, 3)["eval/maj@3"] == 1.0


def test_a_generator_that_drops_samples_is_an_error(prompts, pool):
    with pytest.raises(RuntimeError, match="completions for 6 prompts x 2 samples"):
        evaluate(lambda ids, n, *rest: [[("a", [])]] * len(ids), prompts, samples=2, temperature=0.0, max_tokens=4,
                 stop=[], pool=pool, seed=0)
