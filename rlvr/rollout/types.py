"""What flows from the engines to the learner: one sampled response, grouped by prompt."""
from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class GroupRequest:
    """One prompt to sample `n` responses for, tagged with the step it was drawn for."""

    prompt_id: str
    prompt: str
    prompt_ids: list[int]
    ground_truth: Any
    verifier: str
    step: int
    n: int
    max_tokens: int
    seed: int
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Sample:
    """One response and everything the learner needs about it."""

    prompt_id: str
    prompt_ids: list[int]
    response_ids: list[int]
    response_text: str
    rollout_logprobs: list[float]  # vLLM's log-prob of each sampled token
    finish_reason: str  # "stop" (EOS / stop string) or "length" (truncated)
    version: int  # policy version (optimizer steps) of the engine weights that sampled it
    reward: float = 0.0
    correct: bool = False
    verifier_error: str | None = None
    advantage: float = 0.0

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclasses.dataclass
class Group:
    """All samples of one prompt, as an engine hands them over when the last one finishes."""

    request: GroupRequest
    samples: list[Sample]
    version: int
    engine: int
    gen_seconds: float = 0.0

    @property
    def step(self) -> int:
        return self.request.step
