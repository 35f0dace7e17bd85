"""Objectives the learner workers can apply to a micro-batch, by name.

An objective is `fn(model, micro_batch, ctx) -> (loss, stats)` where `loss` is this
micro-batch's share of the optimizer step's loss (so the shares add up to the whole) and
`stats` are sums the caller adds over micro-batches and workers.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

Objective = Callable[[torch.nn.Module, dict[str, Any], dict[str, Any]], tuple[torch.Tensor, dict[str, float]]]
_OBJECTIVES: dict[str, Objective] = {}


def register(name: str) -> Callable[[Objective], Objective]:
    def wrap(fn: Objective) -> Objective:
        _OBJECTIVES[name] = fn
        return fn

    return wrap


def get(name: str) -> Objective:
    if name not in _OBJECTIVES:
        raise KeyError(f"unknown learner objective {name!r}; known: {sorted(_OBJECTIVES)}")
    return _OBJECTIVES[name]


def _forward_logits(model: torch.nn.Module, mb: dict[str, Any]) -> torch.Tensor:
    kwargs: dict[str, Any] = {"input_ids": mb["input_ids"], "position_ids": mb.get("position_ids")}
    if "attention_mask" in mb and mb["attention_mask"] is not None:
        kwargs["attention_mask"] = mb["attention_mask"]
    return model(**kwargs, use_cache=False).logits


def _gather_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def token_logprobs(model: torch.nn.Module, mb: dict[str, Any], temperature: float = 1.0) -> torch.Tensor:
    """log p(token_{j+1} | tokens_{<=j}) for every position j: shape [B, L-1]."""
    logits = _forward_logits(model, mb)[:, :-1]
    return _gather_logprobs(logits, mb["input_ids"][:, 1:], temperature)


@register("policy")
def policy_objective(model: torch.nn.Module, mb: dict[str, Any], ctx: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
    """The RL policy loss (rlvr.algorithms.losses.policy_loss) on response tokens."""
    from rlvr.algorithms.losses import entropy_from_logits, policy_loss

    cfg = ctx["algorithm"]
    temperature = float(ctx.get("temperature", 1.0))
    logits = _forward_logits(model, mb)[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    # gather - logsumexp instead of a full log_softmax: one [B, L, V] float tensor, not two.
    targets = mb["input_ids"][:, 1:].unsqueeze(-1)
    logp = logits.gather(-1, targets).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    if cfg.entropy_coef > 0:
        entropy = entropy_from_logits(logits, chunk_size=1024)
    else:
        with torch.no_grad():
            entropy = entropy_from_logits(logits.detach(), chunk_size=1024)
    old_logp = mb.get("old_logp")
    if old_logp is None:
        old_logp = logp.detach()
    loss, stats = policy_loss(
        logp, old_logp, mb["rollout_logp"], mb["advantages"], mb["loss_mask"], cfg,
        eps_low=ctx["eps_low"], eps_high=ctx["eps_high"],
        global_tokens=ctx["global_tokens"], global_seqs=ctx["global_seqs"], agg_constant=ctx["agg_constant"],
        ref_logp=mb.get("ref_logp"), entropy=entropy,
    )
    return loss, {k: float(v) for k, v in stats.items()}


@register("causal_lm")
def causal_lm_objective(model: torch.nn.Module, mb: dict[str, Any], ctx: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
    """Next-token cross-entropy summed over label tokens / the step's global label-token count.

    `labels` are aligned with `input_ids` (the Hugging Face convention) with -100 where no loss is
    taken: padding, a document's first token after a packing boundary, prompt tokens in SFT.
    """
    logits = _forward_logits(model, mb)[:, :-1].float()
    labels = mb["labels"][:, 1:]
    valid = labels != -100
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.clamp_min(0).reshape(-1), reduction="none"
    ).view_as(labels)
    nll = nll * valid
    loss = nll.sum() / float(ctx["global_tokens"])
    return loss, {"loss_sum": float(nll.sum().detach()), "label_tokens": float(valid.sum())}
