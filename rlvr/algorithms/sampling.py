"""Group-level sampling helpers used by the trainer: signal filters, overlong shaping, prompt retirement.

* zero-std filter (OlmoRL "zero gradient signal filtering", Olmo 3 §4.4.1): drop groups whose rewards are all
  equal; their centred/standardised advantages are all zero.
* dynamic sampling keep rule (DAPO Eq. 11, CAMPO Eq. 5): keep a group iff 0 < #correct < G, judged on
  correctness, not on the shaped reward (CAMPO filters on ``acc`` before the repetition penalty).
* overlong soft penalty (DAPO Eq. 13).
* truncated-response masking and prompt retirement.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from rlvr.algorithms.advantages import dense_group_index
from rlvr.algorithms.config import RETIRE_SCOPES


def _check_grouped(values: Tensor, group_ids: Tensor, name: str) -> None:
    if values.dim() != 1 or group_ids.shape != values.shape:
        raise ValueError(
            f"{name} must be 1-D with the shape of group_ids; got {tuple(values.shape)} vs {tuple(group_ids.shape)}"
        )


def zero_std_mask(rewards: Tensor, group_ids: Tensor) -> Tensor:
    """BoolTensor[num_groups], True where every reward of the group is identical (no learning signal).

    Groups are ordered as ``torch.unique(group_ids)`` (ascending ids). Equality is exact (min == max), so
    float rounding in a std cannot keep a constant group alive.
    """
    _check_grouped(rewards, group_ids, "rewards")
    inverse, unique_ids = dense_group_index(group_ids)
    r = rewards.double()
    lo = torch.full((unique_ids.numel(),), float("inf"), dtype=torch.float64, device=r.device)
    hi = torch.full_like(lo, float("-inf"))
    lo = lo.scatter_reduce(0, inverse, r, reduce="amin")
    hi = hi.scatter_reduce(0, inverse, r, reduce="amax")
    return lo == hi


def dynamic_sampling_keep(correct: Tensor, group_ids: Tensor, *, keep_singletons: bool = False) -> Tensor:
    """BoolTensor[num_groups]: keep iff 0 < #correct < G (DAPO/CAMPO dynamic sampling).

    ``correct`` is a BoolTensor (or 0/1 tensor) per response. A group of one response cannot satisfy the rule;
    CAMPO's code keeps such groups, which ``keep_singletons=True`` reproduces.
    """
    _check_grouped(correct, group_ids, "correct")
    if correct.dtype != torch.bool:
        if not bool(((correct == 0) | (correct == 1)).all()):
            raise ValueError("correct must be boolean or 0/1 per response")
        correct = correct.bool()
    inverse, unique_ids = dense_group_index(group_ids)
    size = torch.bincount(inverse, minlength=unique_ids.numel())
    hits = torch.bincount(inverse, weights=correct.double(), minlength=unique_ids.numel()).long()
    keep = (hits > 0) & (hits < size)
    if keep_singletons:
        keep = keep | (size == 1)
    return keep


def overlong_soft_penalty(lengths: Tensor, max_tokens: int, buffer: float, factor: float) -> Tensor:
    """DAPO soft overlong punishment, a reward term <= 0 to ADD to the reward:

        0                                      if len <= max_tokens - buffer
        factor * ((max_tokens - buffer) - len) / buffer   if max_tokens - buffer < len <= max_tokens
        -factor                                if len > max_tokens
    """
    if not 0 < buffer <= max_tokens:
        raise ValueError(f"algorithm.overlong_buffer must be in (0, max_tokens={max_tokens}], got {buffer}")
    if factor < 0:
        raise ValueError(f"algorithm.overlong_penalty must be >= 0, got {factor}")
    length = lengths.double()
    start = max_tokens - buffer
    ramp = (start - length) / buffer * factor
    out = torch.where(length <= start, torch.zeros_like(length), ramp)
    out = torch.where(length > max_tokens, torch.full_like(length, -factor), out)
    return out.float()


def mask_truncated(loss_mask: Tensor, truncated: Tensor) -> Tensor:
    """Remove truncated responses (finish reason not "stop") from the loss: ``loss_mask & ~truncated[:, None]``.

    This only touches the loss; the advantages were already computed, so truncated responses still count in
    their group's mean ("mask after"). To take them out of the group statistics as well ("mask before"), pass
    ``valid=~truncated`` to ``compute_advantages``.
    """
    if loss_mask.dim() != 2 or loss_mask.dtype != torch.bool:
        raise ValueError(f"loss_mask must be a BoolTensor [B, T], got {loss_mask.dtype} {tuple(loss_mask.shape)}")
    if truncated.shape != (loss_mask.shape[0],) or truncated.dtype != torch.bool:
        raise ValueError(f"truncated must be a BoolTensor [B] = [{loss_mask.shape[0]}]")
    return loss_mask & ~truncated[:, None]


class PromptRetirement:
    """Stops sampling prompts whose pass rate reached ``threshold``.

    scope "epoch": retired prompts come back at ``new_epoch()``; scope "run": they stay out for good
    (open-instruct's behaviour of not resampling solved prompts in later epochs). Pass rates seen in the current
    epoch are kept in ``pass_rates`` for logging either way.
    """

    def __init__(self, threshold: float = 1.0, scope: str = "epoch") -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"algorithm.retire_pass_rate must be in (0, 1], got {threshold}")
        if scope not in RETIRE_SCOPES:
            raise ValueError(f"algorithm.retire_scope must be one of {RETIRE_SCOPES}, got {scope!r}")
        self.threshold = threshold
        self.scope = scope
        self.pass_rates: dict[Any, float] = {}
        self.retired: set[Any] = set()
        self.epoch = 0

    def retire(self, prompt_ids: Iterable[Any], pass_rates: Iterable[float]) -> list[Any]:
        """Record pass rates; retire prompts at or above the threshold. Returns the newly retired ids."""
        ids, rates = list(prompt_ids), [float(r) for r in pass_rates]
        if len(ids) != len(rates):
            raise ValueError(f"retire: {len(ids)} prompt ids but {len(rates)} pass rates")
        newly = []
        for pid, rate in zip(ids, rates):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"retire: pass rate of prompt {pid!r} is {rate}, not in [0, 1]")
            self.pass_rates[pid] = rate
            if rate >= self.threshold and pid not in self.retired:
                self.retired.add(pid)
                newly.append(pid)
        return newly

    def is_retired(self, prompt_id: Any) -> bool:
        return prompt_id in self.retired

    def new_epoch(self) -> None:
        self.epoch += 1
        self.pass_rates.clear()
        if self.scope == "epoch":
            self.retired.clear()

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to retire exactly as the uninterrupted one (rlvr/checkpoint.py)."""
        return {"pass_rates": dict(self.pass_rates), "retired": sorted(self.retired, key=repr), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pass_rates = dict(state["pass_rates"])
        self.retired = set(state["retired"])
        self.epoch = int(state["epoch"])
