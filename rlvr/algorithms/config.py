"""Knobs of the policy-optimisation family (OlmoRL, CAMPO, GRPO, DAPO, Dr. GRPO).

Presets live in conf/algorithm/*.yaml; every field here has a default, a type and a line of doc.
The allowed values of the enum-like fields are listed once here (the tensor functions check against
the same tuples) and `AlgorithmConfig.validate()` checks them when the config is composed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any, Sequence

ADVANTAGE_KINDS = ("centered", "standardized", "rloo")
LOSS_AGG_MODES = ("token", "seq_mean", "constant")
TIS_LEVELS = ("none", "token", "sequence")
KL_ESTIMATORS = ("k1", "k2", "k3")
OVERLONG_MODES = ("none", "mask", "soft_penalty")
RETIRE_SCOPES = ("epoch", "run")
FILTER_ON = ("reward", "correct")
PENALTY_FORMS = ("fraction", "constant")
OLD_LOGPROBS = ("learner", "engine")


def check_choice(key: str, value: Any, allowed: Sequence[str]) -> None:
    """Raise a ValueError naming `key` and the allowed values when `value` is not one of them."""
    if value not in allowed:
        raise ValueError(f"{key}={value!r} is not allowed; choose one of: {', '.join(allowed)}")


@dataclasses.dataclass
class RepetitionConfig:
    enabled: bool = False  # CAMPO repetition penalty subtracted from the reward before advantages
    coef: float = 1.0  # penalty = coef * f(o); f(o) = fraction of the response inside the trailing loop
    form: str = "fraction"  # fraction (paper: earlier loop start, larger f) | constant (released code: coef if any loop)
    only_truncated: bool = False  # check only responses cut at max_tokens (released code) or all of them
    min_repeats: int = 2  # a period counts as a loop once its block repeats this many times


@dataclasses.dataclass
class LengthStage:
    max_tokens: int = 256  # rollout max_tokens during this stage
    eps_low: float = 0.2  # lower clip bound during this stage
    eps_high: float = 0.272  # upper clip bound during this stage
    until_step: int | None = None  # advance to the next stage after this many optimizer steps (None: never by step)
    until_truncation_rate: float | None = None  # advance when the batch truncation rate reaches this (None: off)


@dataclasses.dataclass
class AlgorithmConfig:
    name: str = "olmorl"  # preset name, for logs and tables
    advantage: str = "centered"  # centered (r - mean) | standardized ((r - mean) / std) | rloo (leave-one-out)
    std_unbiased: bool = False  # standardized: N-1 (verl/CAMPO) or N (population) in the std
    std_eps: float = 1e-6  # added to the std before dividing
    reward_scale: float = 1.0  # rewards are multiplied by this before the advantage
    eps_low: float = 0.2  # clip ratio below at 1 - eps_low
    eps_high: float = 0.272  # clip ratio above at 1 + eps_high (OlmoRL 0.272, DAPO 0.28)
    dual_clip_c: float | None = None  # dual-clip bound for negative advantages (None: off; CAMPO code 10.0)
    tis: str = "token"  # truncated importance sampling learner vs vLLM: none | token | sequence
    tis_cap: float = 2.0  # upper cap of the TIS weight
    old_logprobs: str = "learner"  # PPO ratio denominator: learner (the policy before this step) | engine (vLLM's, sampling policy)
    kl_coef: float = 0.0  # KL to the reference policy (0: off, no reference model is loaded)
    kl_estimator: str = "k3"  # k1 | k2 | k3
    entropy_coef: float = 0.0  # entropy bonus coefficient (0: off)
    loss_agg: str = "token"  # token (OlmoRL/DAPO) | seq_mean (GRPO) | constant (Dr. GRPO)
    loss_agg_constant: float = 0.0  # Dr. GRPO denominator per sequence; 0 means the budget the sequence was sampled with
    filter_zero_std: bool = True  # drop groups without learning signal (judged as `filter_on` says)
    filter_on: str = "reward"  # reward (shaped rewards all equal) | correct (DAPO/CAMPO: keep iff 0 < #correct < G)
    active_sampling: bool = False  # keep drawing prompts until the batch has its quota of groups with signal
    max_sampling_tries: int = 4  # active sampling: at most this many prompt batches per step
    overlong: str = "none"  # none | mask (truncated responses out of the loss) | soft_penalty (DAPO)
    overlong_buffer: int = 0  # soft_penalty: tokens before the limit where the penalty ramps up (0: use the fraction)
    overlong_buffer_frac: float = 0.2  # soft_penalty with overlong_buffer=0: buffer = this x the group's budget (DAPO 4096/20480)
    overlong_penalty: float = 1.0  # soft_penalty: penalty at the limit
    retire_solved: bool = False  # drop prompts solved by every sample for the rest of the epoch
    retire_pass_rate: float = 1.0  # pass rate at or above which a prompt is retired
    retire_scope: str = "epoch"  # epoch (retired prompts return next epoch) | run (never sampled again)
    repetition: RepetitionConfig = field(default_factory=RepetitionConfig)
    length_stages: list[LengthStage] = field(default_factory=list)  # empty: one stage from rollout.max_tokens

    def validate(self) -> None:
        """Check the enum-like fields (a typo would otherwise fail at the first step, or never)."""
        for key, allowed in (("advantage", ADVANTAGE_KINDS), ("loss_agg", LOSS_AGG_MODES), ("tis", TIS_LEVELS),
                             ("kl_estimator", KL_ESTIMATORS), ("overlong", OVERLONG_MODES),
                             ("retire_scope", RETIRE_SCOPES), ("filter_on", FILTER_ON),
                             ("old_logprobs", OLD_LOGPROBS)):
            check_choice(f"algorithm.{key}", getattr(self, key), allowed)
        check_choice("algorithm.repetition.form", self.repetition.form, PENALTY_FORMS)
        if not 0.0 < self.overlong_buffer_frac <= 1.0:
            raise ValueError(f"algorithm.overlong_buffer_frac={self.overlong_buffer_frac} must be in (0, 1]")

    def overlong_buffer_for(self, max_tokens: int) -> float:
        """The soft over-long buffer (tokens) for a group sampled with budget `max_tokens`."""
        return float(self.overlong_buffer) if self.overlong_buffer > 0 else self.overlong_buffer_frac * max_tokens
