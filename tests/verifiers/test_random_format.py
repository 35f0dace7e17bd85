"""The random (Bernoulli) and format (think tags) verifiers."""
import pickle

import pytest

from verifiers import get_verifier
from verifiers.format import FormatVerifier
from verifiers.random_reward import RandomVerifier


def test_random_rate_matches_p():
    v = get_verifier("random", p=0.3, seed=1)
    rewards = [v("", None, metadata={"sample_id": i}).reward for i in range(4000)]
    assert set(rewards) <= {0.0, 1.0}
    assert abs(sum(rewards) / len(rewards) - 0.3) < 0.03


def test_random_ignores_response_and_is_reproducible_by_sample_id():
    a, b = RandomVerifier(seed=5), RandomVerifier(seed=5)
    ids = range(200)
    first = [a("right answer", "x", metadata={"sample_id": i}).reward for i in ids]
    second = [b("something else entirely", "y", metadata={"sample_id": i}).reward for i in ids]
    assert first == second
    other_seed = [RandomVerifier(seed=6)("", None, metadata={"sample_id": i}).reward for i in ids]
    assert other_seed != first


def test_random_without_sample_id_uses_prompt_and_counter():
    a, b = RandomVerifier(seed=2), RandomVerifier(seed=2)
    seq_a = [a("r", None, prompt="What is 2+2?").details["u"] for _ in range(20)]
    seq_b = [b("different", None, prompt="What is 2+2?").details["u"] for _ in range(20)]
    assert seq_a == seq_b  # same instance history, same draws
    assert len(set(seq_a)) == 20  # repeated samples of one prompt are independent draws
    assert pickle.loads(pickle.dumps(a))("r", None, prompt="What is 2+2?").details["u"] == seq_a[0]


@pytest.mark.parametrize("p, expected", [(0.0, 0.0), (1.0, 1.0)])
def test_random_extremes(p, expected):
    v = RandomVerifier(p=p)
    assert {v("", None, metadata={"sample_id": i}).reward for i in range(50)} == {expected}


def test_random_rejects_bad_p():
    with pytest.raises(ValueError, match="p must be in"):
        RandomVerifier(p=1.5)


@pytest.mark.parametrize(
    "response, reason",
    [
        ("<think>reasoning</think>The answer is 4.", None),
        ("  \n<think></think>4", None),
        ("The answer is 4.", "no <think> tag"),
        ("Sure! <think>r</think>4", "does not start with <think>"),
        ("<think>a</think><think>b</think>4", "2 <think> tags (expected exactly one)"),
        ("<think>a</think>b</think>4", "2 </think> tags (expected exactly one)"),
        ("<think>never closed 4", "unclosed <think>: no </think>"),
        ("<think>all reasoning</think>  \n", "empty answer after </think>"),
    ],
)
def test_format_rules(response, reason):
    result = get_verifier("format")(response, None)
    assert result.reward == (1.0 if reason is None else 0.0)
    assert result.details["reason"] == (reason or "well formed")


def test_format_options():
    strict = FormatVerifier(require_reasoning=True)
    assert strict("<think> </think>4", None).details["reason"] == "empty reasoning between <think> and </think>"
    custom = FormatVerifier(open_tag="<reasoning>", close_tag="</reasoning>")
    assert custom("<reasoning>r</reasoning>4", None).reward == 1.0
    with pytest.raises(ValueError):
        FormatVerifier(open_tag="<t>", close_tag="<t>")
    assert FormatVerifier()(None, None).error.startswith("response must be a string")
