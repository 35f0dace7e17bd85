"""What flows from the engines to the learner: prompt requests, sampled responses grouped by prompt.

Neutral ground: rollout/ makes these, rewards.py and learner/batching.py read them, so they live
above both. Rewards, advantages and loss masks are not stored here: they belong to one optimizer
step and live in `rlvr.rewards.StepBatch`.
"""
from __future__ import annotations

import dataclasses
from typing import Any

IGNORE_INDEX = -100  # label of a token that takes no loss (padding, prompts, packing boundaries)


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
    max_tokens: int  # the budget this group is sampled with (its over-long penalty and divisor use it)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    uid: int = 0  # dispatch serial number, unique within a run: the same prompt may be drawn twice in a step


@dataclasses.dataclass
class Sample:
    """One sampled response as the engine returned it."""

    prompt_id: str
    prompt_ids: list[int]
    response_ids: list[int]
    response_text: str
    rollout_logprobs: list[float]  # vLLM's log-prob of each sampled token
    finish_reason: str  # "stop" (EOS / stop string) or "length" (truncated)
    stop_tokens: int = 0  # trailing response tokens that spell the matched stop string (not the answer's body)
    max_tokens: int = 0  # the budget it was sampled with (0: unknown)
    # Policy versions it was sampled with, as (first response token index, version) switch points in order: the
    # first entry is the version the request started with (its prompt's KV), one more per in-flight weight update
    # (rollout.inflight_updates). A tuple default, so samples pickled before the field existed read back as ().
    versions: tuple[tuple[int, int], ...] = ()

    @property
    def body_ids(self) -> list[int]:
        """The response without the tokens of its matched stop string (what a loop detector should read)."""
        return list(self.response_ids[: len(self.response_ids) - self.stop_tokens])

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    @property
    def switched(self) -> bool:
        """Whether its policy changed while it was being sampled (an in-flight weight update)."""
        return len({v for _, v in self.versions}) > 1


def oldest_version(samples: list[Sample], default: int) -> int:
    """The oldest policy version any of `samples`' tokens (or prompt KV) used; `default` where none recorded."""
    return min((v for s in samples for _, v in s.versions), default=default)


@dataclasses.dataclass
class Group:
    """All samples of one prompt, as an engine hands them over when the last one finishes."""

    request: GroupRequest
    samples: list[Sample]
    version: int  # the OLDEST policy version (optimizer steps) any of its samples used: the staleness bound holds by it

    @property
    def step(self) -> int:
        return self.request.step
