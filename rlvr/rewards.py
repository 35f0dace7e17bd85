"""From finished groups to one optimizer step's batch: score -> shape -> filter -> advantages.

Order per group (documented because it changes the numbers):
1. score: the verifier scores each response (reward in [0, 1], `correct`);
2. shape: CAMPO's repetition penalty and DAPO's soft over-long penalty are added to the reward,
   before any group statistics (MiroMind-M1 eq. 6);
3. filter: a group without learning signal is dropped (`algorithm.filter_on`: all shaped rewards
   equal, or DAPO/CAMPO's 0 < #correct < G);
4. advantages over each kept group, truncated responses included; masking truncated responses
   (algorithm.overlong=mask) happens afterwards, in the loss only.
Nothing is written into the `Sample` objects: each step's values live in its `StepBatch`.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Sequence

import torch

from rlvr.algorithms.advantages import compute_advantages
from rlvr.algorithms.config import AlgorithmConfig
from rlvr.algorithms.repetition import repetition_penalty
from rlvr.algorithms.sampling import dynamic_sampling_keep, overlong_soft_penalty, zero_std_mask
from rlvr.types import Group, Sample
from verifiers.base import get_verifier
from verifiers.pool import ScoreItem, VerifierPool


@dataclasses.dataclass(frozen=True)
class Verdicts:
    """The verifier's results for one group, one entry per sample."""

    reward: list[float]
    correct: list[bool]
    error: list[str | None]


class RewardScorer:
    """Verifier workers (a VerifierPool) that score groups with each row's verifier, or one override."""

    def __init__(self, verifier_override: str, options: dict[str, Any], timeout_s: float, num_workers: int,
                 import_modules: Sequence[str] = ()):
        self.override = verifier_override
        if verifier_override:
            for module in import_modules:
                importlib.import_module(module)
            try:  # fail at start-up, not on the first batch
                get_verifier(verifier_override, **options)
            except (KeyError, TypeError) as exc:
                raise ValueError(f"reward.verifier={verifier_override!r}: {exc}") from exc
        opts = {verifier_override: dict(options)} if verifier_override else {}
        self.pool = VerifierPool(num_workers=num_workers, timeout_s=timeout_s, verifier_options=opts,
                                 import_modules=list(import_modules))

    def score(self, group: Group) -> Verdicts:
        results = self.pool.score(score_items(group, self.override))
        return Verdicts([float(r.reward) for r in results], [bool(r.correct) for r in results],
                        [r.error for r in results])

    def close(self) -> None:
        self.pool.close()


def score_items(group: Group, verifier_override: str = "") -> list[ScoreItem]:
    """The verifier's work items for a group. `sample_id` (what the random verifier draws from) includes the
    request uid: a prompt drawn twice in one step gets two independent sets of rewards."""
    req = group.request
    name = verifier_override or req.verifier
    return [ScoreItem(verifier=name, response=s.response_text, ground_truth=req.ground_truth, prompt=req.prompt,
                      metadata={**req.metadata, "sample_id": f"{req.step}:{req.prompt_id}:{req.uid}:{k}"})
            for k, s in enumerate(group.samples)]


@dataclasses.dataclass(frozen=True)
class ScoredGroup:
    """One group after score and shape."""

    group: Group
    rewards: list[float]  # the reward that trains: verifier reward - repetition penalty + over-long penalty
    correct: list[bool]
    errors: list[str | None]
    repetition_penalty: list[float]  # 0.0 per sample when the penalty is off


def shape_rewards(group: Group, verdicts: Verdicts, algo: AlgorithmConfig) -> ScoredGroup:
    """Add the configured shaping terms to the verifier rewards (step 2 of the module docstring).

    The over-long penalty uses the budget the group was sampled with (`request.max_tokens`), not the
    current stage's: with asynchronous generation a group can come from the stage before. The loop
    detector reads each response's body, without the tokens of a matched stop string (a response ending
    on "\n\n" has not looped).
    """
    samples = group.samples
    rewards = list(verdicts.reward)
    penalties = [0.0] * len(samples)
    if algo.repetition.enabled:
        bodies = [s.body_ids for s in samples]
        width = max(1, max(len(b) for b in bodies))
        ids = torch.zeros((len(samples), width), dtype=torch.long)
        for i, body in enumerate(bodies):
            ids[i, : len(body)] = torch.tensor(body, dtype=torch.long)
        lengths = torch.tensor([len(b) for b in bodies])
        truncated = torch.tensor([s.truncated for s in samples])
        penalties = [float(p) for p in repetition_penalty(ids, lengths, truncated, algo.repetition).tolist()]
        rewards = [r - p for r, p in zip(rewards, penalties)]
    if algo.overlong == "soft_penalty":
        budget = group.request.max_tokens
        lengths = torch.tensor([len(s.response_ids) for s in samples], dtype=torch.float32)
        soft = overlong_soft_penalty(lengths, budget, algo.overlong_buffer_for(budget), algo.overlong_penalty)
        rewards = [r + float(p) for r, p in zip(rewards, soft.tolist())]
    return ScoredGroup(group, rewards, list(verdicts.correct), list(verdicts.error), penalties)


def keep_group(scored: ScoredGroup, algo: AlgorithmConfig) -> bool:
    """The signal filter (step 3): False for a group that `algorithm.filter_on` says teaches nothing."""
    if not algo.filter_zero_std:
        return True
    one_group = torch.zeros(len(scored.rewards), dtype=torch.long)
    if algo.filter_on == "correct":
        return bool(dynamic_sampling_keep(torch.tensor(scored.correct, dtype=torch.bool), one_group)[0])
    return not bool(zero_std_mask(torch.tensor(scored.rewards, dtype=torch.float64), one_group)[0])


@dataclasses.dataclass(frozen=True)
class StepBatch:
    """One optimizer step's groups from score to advantages."""

    scored: list[ScoredGroup]  # every admissible group of the step (all active-sampling tries)
    kept: list[ScoredGroup]  # the groups that train: filtered, cut to the step's quota
    advantages: list[float]  # one per kept sample, in `samples` order
    drop_truncated: bool  # truncated responses stay out of the loss (algorithm.overlong=mask)

    @property
    def samples(self) -> list[Sample]:
        """The kept samples, group by group (what the learner trains on)."""
        return [s for g in self.kept for s in g.group.samples]

    @property
    def all_samples(self) -> list[Sample]:
        return [s for g in self.scored for s in g.group.samples]

    @property
    def truncation_rate(self) -> float:
        samples = self.all_samples
        return sum(s.truncated for s in samples) / max(1, len(samples))


def make_batch(scored: list[ScoredGroup], kept: list[ScoredGroup], algo: AlgorithmConfig) -> StepBatch:
    """The step's batch with group-relative advantages of the kept groups (step 4)."""
    return StepBatch(scored, kept, group_advantages(kept, algo), algo.overlong == "mask")


def group_advantages(groups: Sequence[ScoredGroup], algo: AlgorithmConfig) -> list[float]:
    """Advantages of every sample (scaled rewards normalised within each group), group by group."""
    rewards = [r * algo.reward_scale for g in groups for r in g.rewards]
    if not rewards:
        return []
    gids = [gi for gi, g in enumerate(groups) for _ in g.rewards]
    adv = compute_advantages(torch.tensor(rewards, dtype=torch.float32), torch.tensor(gids, dtype=torch.long),
                             algo.advantage, std_eps=algo.std_eps, std_unbiased=algo.std_unbiased)
    return [float(a) for a in adv.tolist()]
