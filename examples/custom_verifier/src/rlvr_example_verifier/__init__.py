"""An rlvr verifier shipped as its own package: ``exact_match``.

Reward 1 when the response's final answer equals the ground truth as text. The final
answer is the text after the last ``</think>`` (if any), trimmed; by default case and runs
of whitespace do not matter. Options: ``case_sensitive`` (default False).
"""
from __future__ import annotations

import re
from typing import Any

from verifiers.base import VerifierResult, register


@register("exact_match")
class ExactMatchVerifier:
    """Reward 1 when the answer equals the ground truth as text (whitespace-normalised)."""

    def __init__(self, case_sensitive: bool = False):
        self.case_sensitive = bool(case_sensitive)

    def _norm(self, text: str) -> str:
        text = re.sub(r"\s+", " ", text).strip()
        return text if self.case_sensitive else text.casefold()

    def __call__(self, response: str, ground_truth: Any, prompt: str | None = None,
                 metadata: dict[str, Any] | None = None) -> VerifierResult:
        if not isinstance(ground_truth, str):
            return VerifierResult.failure(f"ground_truth must be a string, got {type(ground_truth).__name__}")
        answer = response.rsplit("</think>", 1)[-1]
        ok = self._norm(answer) == self._norm(ground_truth)
        return VerifierResult(reward=float(ok), correct=ok, details={"answer": answer.strip()[:200]})
