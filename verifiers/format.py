"""``format``: 1 when the response is ``<think>reasoning</think>answer`` and well formed.

Well formed means: the response starts (after whitespace) with ``<think>``; there is
exactly one ``<think>`` and one ``</think>``; and some non-whitespace answer follows
``</think>``. ``details["reason"]`` says which rule failed. The ground truth is ignored.
"""
from __future__ import annotations

from typing import Any

from verifiers.base import TextVerifier, VerifierResult, register


@register("format")
class FormatVerifier(TextVerifier):
    """Reward 1 for exactly one leading ``<think>...</think>`` pair followed by an answer.

    Options: ``open_tag``/``close_tag`` (default ``<think>``/``</think>``),
    ``require_reasoning`` (the text between the tags must be non-empty; default False).
    """

    def __init__(self, open_tag: str = "<think>", close_tag: str = "</think>", require_reasoning: bool = False):
        if not open_tag or not close_tag or open_tag == close_tag:
            raise ValueError(f"open_tag and close_tag must be two different non-empty strings, got {open_tag!r}, {close_tag!r}")
        self.open_tag = open_tag
        self.close_tag = close_tag
        self.require_reasoning = bool(require_reasoning)

    def check(self, response: str) -> str | None:
        """None when well formed, else the reason."""
        o, c = self.open_tag, self.close_tag
        n_open, n_close = response.count(o), response.count(c)
        if not response.lstrip().startswith(o):
            return f"does not start with {o}" if n_open else f"no {o} tag"
        if n_open > 1:
            return f"{n_open} {o} tags (expected exactly one)"
        if n_close == 0:
            return f"unclosed {o}: no {c}"
        if n_close > 1:
            return f"{n_close} {c} tags (expected exactly one)"
        reasoning, _, answer = response.lstrip()[len(o):].partition(c)
        if self.require_reasoning and not reasoning.strip():
            return f"empty reasoning between {o} and {c}"
        if not answer.strip():
            return f"empty answer after {c}"
        return None

    def score(self, response: str, ground_truth: Any, prompt: str | None,
              metadata: dict[str, Any] | None) -> VerifierResult:
        reason = self.check(response)
        ok = reason is None
        return VerifierResult(reward=1.0 if ok else 0.0, correct=ok,
                              details={"reason": reason or "well formed"})
