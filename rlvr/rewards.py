"""From finished groups to advantages: verifier scores, reward shaping, group normalisation.

Order per group (documented because it changes the numbers):
1. the verifier scores each response (reward in [0, 1], `correct`);
2. shaping: CAMPO's repetition penalty and DAPO's soft over-long penalty are added to the
   reward, before any group statistics (MiroMind-M1 eq. 6);
3. advantages are computed over the whole group, truncated responses included; masking
   truncated responses (algorithm.overlong=mask) happens afterwards, in the loss only.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from rlvr.algorithms.config import AlgorithmConfig
from rlvr.rollout.types import Group
from verifiers.pool import ScoreItem, VerifierPool


class RewardScorer:
    def __init__(self, verifier_override: str, options: dict[str, Any], timeout_s: float, num_workers: int,
                 algorithm: AlgorithmConfig, import_modules: Sequence[str] = ()):
        self.override = verifier_override
        if verifier_override:
            import importlib

            from verifiers.base import get_verifier

            for module in import_modules:
                importlib.import_module(module)

            try:  # fail at start-up, not on the first batch
                get_verifier(verifier_override, **options)
            except (KeyError, TypeError) as exc:
                raise ValueError(f"reward.verifier={verifier_override!r}: {exc}") from exc
        opts = {verifier_override: dict(options)} if verifier_override else {}
        self.pool = VerifierPool(num_workers=num_workers, timeout_s=timeout_s, verifier_options=opts,
                                 import_modules=list(import_modules))
        self.algorithm = algorithm
        self.errors = 0

    def score_group(self, group: Group, max_tokens: int) -> None:
        req = group.request
        name = self.override or req.verifier
        items = [
            ScoreItem(verifier=name, response=s.response_text, ground_truth=req.ground_truth, prompt=req.prompt,
                      metadata={**req.metadata, "sample_id": f"{req.step}:{req.prompt_id}:{k}"})
            for k, s in enumerate(group.samples)
        ]
        results = self.pool.score(items)
        for s, r in zip(group.samples, results):
            s.reward = float(r.reward)
            s.correct = bool(r.correct)
            s.verifier_error = r.error
            if r.error:
                self.errors += 1
        self._shape(group, max_tokens)

    def _shape(self, group: Group, max_tokens: int) -> None:
        algo = self.algorithm
        samples = group.samples
        if algo.repetition.enabled:
            from rlvr.algorithms.repetition import repetition_penalty

            width = max(1, max(len(s.response_ids) for s in samples))
            ids = torch.zeros((len(samples), width), dtype=torch.long)
            for i, s in enumerate(samples):
                ids[i, : len(s.response_ids)] = torch.tensor(s.response_ids, dtype=torch.long)
            lengths = torch.tensor([len(s.response_ids) for s in samples])
            truncated = torch.tensor([s.truncated for s in samples])
            penalty = repetition_penalty(ids, lengths, truncated, algo.repetition)
            for s, p in zip(samples, penalty.tolist()):
                s.repetition_penalty = float(p)  # type: ignore[attr-defined]
                s.reward -= float(p)
        if algo.overlong == "soft_penalty":
            from rlvr.algorithms.sampling import overlong_soft_penalty

            lengths = torch.tensor([len(s.response_ids) for s in samples], dtype=torch.float32)
            pen = overlong_soft_penalty(lengths, max_tokens, algo.overlong_buffer, algo.overlong_penalty)
            for s, p in zip(samples, pen.tolist()):
                s.reward += float(p)

    def close(self) -> None:
        self.pool.close()


def assign_advantages(groups: Sequence[Group], algo: AlgorithmConfig) -> None:
    """Set `sample.advantage` for every sample, normalising within each group."""
    from rlvr.algorithms.advantages import compute_advantages

    rewards = []
    gids = []
    for gi, g in enumerate(groups):
        for s in g.samples:
            rewards.append(s.reward * algo.reward_scale)
            gids.append(gi)
    if not rewards:
        return
    adv = compute_advantages(torch.tensor(rewards, dtype=torch.float32), torch.tensor(gids, dtype=torch.long),
                             algo.advantage, std_eps=algo.std_eps, std_unbiased=algo.std_unbiased)
    k = 0
    for g in groups:
        for s in g.samples:
            s.advantage = float(adv[k])
            k += 1


def has_signal(group: Group) -> bool:
    """False when every reward in the group is equal: its advantages are all zero."""
    rewards = [s.reward for s in group.samples]
    return max(rewards) - min(rewards) > 1e-9
