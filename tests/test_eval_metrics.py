"""pass@k and maj@k in rlvr.evaluation against hand-worked numbers (no engines, no verifier processes)."""
from __future__ import annotations

import pytest

from rlvr.data.prompts import TokenizedPrompt
from rlvr.evaluation import ScoredSample, maj_at_k, pass_at_k, summarize
from verifiers.base import VerifierResult


def _r(correct, extracted="absent"):
    details = {} if extracted == "absent" else {"extracted": extracted}
    return VerifierResult(reward=float(correct), correct=correct, details=details)


def test_pass_at_k_is_the_unbiased_estimator():
    # n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5 ("any of the 4" would say 1.0)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    # n=5, c=2, k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)
    assert pass_at_k(3, 0, 2) == 0.0 and pass_at_k(3, 3, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)  # pass@1 is the mean accuracy
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(2, 1, 3)


def _scored(groups, verifier="math"):
    row = TokenizedPrompt(id="0", prompt="q", prompt_ids=[1], ground_truth="1", verifier=verifier, question="q")
    return [ScoredSample(row, "t", r) for g in groups for r in g]


def test_summarize_with_k_below_n():
    # prompt A: 4 samples, 1 correct; prompt B: 4 samples, 3 correct. k = 2.
    a = [_r(True, "1"), _r(False, "2"), _r(False, "2"), _r(False, "3")]
    b = [_r(True, "1"), _r(True, "1"), _r(False, "5"), _r(True, "1")]
    out = summarize(_scored([a, b]), 4, 2)
    assert out["eval/accuracy"] == pytest.approx(4 / 8)
    # A: 1 - C(3,2)/C(4,2) = 0.5; B: 1 - C(1,2)/C(4,2) = 1
    assert out["eval/pass@2"] == pytest.approx(0.75)
    # maj@2 over disjoint pairs: A (1,2) tie -> "1" seen first, correct; (2,3) -> "2", wrong -> 0.5.
    # B (1,1) correct; (5,1) tie -> "5" first, wrong -> 0.5.  Mean 0.5.
    assert out["eval/maj@2"] == pytest.approx(0.5)


def test_maj_at_k_is_not_applicable_without_extracted_answers():
    groups = [[_r(True), _r(False)], [_r(False), _r(False)]]
    assert maj_at_k(groups, 2) is None
    out = summarize(_scored(groups, verifier="code"), 2)
    assert "eval/maj@2" not in out  # not applicable: absent, never 0
    assert out["eval/pass@2"] == pytest.approx(0.5)
    # a verifier that names its answer (None when nothing was extracted: no vote, so not correct)
    named = [[_r(True, "7"), _r(False, None)], [_r(False, None), _r(False, None)]]
    assert summarize(_scored(named), 2)["eval/maj@2"] == pytest.approx(0.5)
