"""The objectives a learner worker applies to a micro-batch, and the per-step settings each one takes.

An objective is a module-level function `fn(model, micro_batch, step) -> (loss, stats)` passed to
`LearnerGroup.train_step` as itself (Ray pickles it by reference). `loss` is this micro-batch's share
of the optimizer step's loss (so the shares add up to the whole) and `stats` are sums the caller adds
over micro-batches and workers. `step` is a frozen dataclass: `PolicyStep` or `CausalLMStep`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch

from rlvr.algorithms.config import AlgorithmConfig
from rlvr.algorithms.losses import entropy_from_logits, policy_loss
from rlvr.data.packing import packed_forward_kwargs
from rlvr.types import IGNORE_INDEX


@dataclasses.dataclass(frozen=True)
class PolicyStep:
    """What every worker needs for one RL optimizer step: the algorithm, this step's clip bounds and the
    step's global token and sequence counts (so each micro-batch's share normalises exactly)."""

    algorithm: AlgorithmConfig
    eps_low: float  # from the length schedule's current stage
    eps_high: float
    global_tokens: int  # response tokens in the loss, all workers and micro-batches
    global_seqs: int  # responses with at least one token in the loss
    agg_constant: float  # Dr. GRPO divisor per sequence (loss_agg=constant) for samples of unknown budget
    temperature: float  # the rollout temperature: learner log-probs are taken at the same one


@dataclasses.dataclass(frozen=True)
class CausalLMStep:
    """One causal-LM optimizer step: the label-token count over all workers and micro-batches."""

    global_tokens: int


Objective = Callable[[torch.nn.Module, dict[str, Any], Any], tuple[torch.Tensor, dict[str, float]]]


def _forward_logits(model: torch.nn.Module, mb: dict[str, Any]) -> torch.Tensor:
    if "unpack_index" in mb:  # packed rows (rlvr.learner.batching.pack_policy_batch): per-sequence attention
        return model(**packed_forward_kwargs(mb, model.config._attn_implementation)).logits
    kwargs: dict[str, Any] = {"input_ids": mb["input_ids"], "position_ids": mb.get("position_ids")}
    if "attention_mask" in mb and mb["attention_mask"] is not None:
        kwargs["attention_mask"] = mb["attention_mask"]
    return model(**kwargs, use_cache=False).logits


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = logits.float()
    return logits / temperature if temperature != 1.0 else logits


def _gather_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # gather - logsumexp instead of a full log_softmax: one [B, L, V] float tensor, not two.
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def _head(logits: torch.Tensor, targets: torch.Tensor, temperature: float,
          entropy_grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p of each target, entropy of each position) from raw logits [B, L, V], in float32.

    One function so that `learner.compile` can fuse it: compiled, the float32 copies of the [B, L, V] logits
    (upcast, temperature, softmax) are never written out, which at a 150k vocabulary is most of the step's
    memory traffic on a GPU. Eager it computes what `_scaled`, `_gather_logprobs` and `entropy_from_logits` do.
    """
    z = logits.float()
    if temperature != 1.0:
        z = z / temperature
    lse = torch.logsumexp(z, dim=-1)
    logp = z.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - lse
    zq = z if entropy_grad else z.detach()
    entropy = (lse if entropy_grad else lse.detach()) - (torch.softmax(zq, dim=-1) * zq).sum(-1)
    return logp, entropy


_compiled_head: Any = None


def use_compiled_head(enabled: bool) -> None:
    """learner.compile: a torch.compile'd `_head` in this process, or the eager steps. Every learner worker sets it
    when it builds its model, so a process that builds workers one after another (a test, a bench) never keeps an
    earlier worker's choice."""
    global _compiled_head
    _compiled_head = torch.compile(_head, dynamic=True) if enabled else None


def _unpack(values: torch.Tensor, mb: dict[str, Any]) -> torch.Tensor:
    """Per-prediction values of packed rows [R, W-1] -> the padded layout [B, L-1] (as is when not packed)."""
    index = mb.get("unpack_index")
    return values if index is None else values.reshape(-1)[index]


def token_logprobs(model: torch.nn.Module, mb: dict[str, Any], temperature: float = 1.0) -> torch.Tensor:
    """log p(token_{j+1} | tokens_{<=j}) for every position j of each sequence: shape [B, L-1]."""
    logits = _scaled(_forward_logits(model, mb)[:, :-1], temperature)
    return _unpack(_gather_logprobs(logits, mb["input_ids"][:, 1:]), mb)


def agg_divisor(mb: dict[str, Any], step: PolicyStep) -> float | torch.Tensor:
    """Dr. GRPO's divisor: each sequence's own sampled budget ([B, 1]) when the preset names no constant and
    every row knows its budget (a group drawn before a length-stage change keeps its stage's budget);
    otherwise the step's constant."""
    cfg = step.algorithm
    budgets = mb.get("seq_budget")
    if cfg.loss_agg == "constant" and not cfg.loss_agg_constant and budgets is not None and bool((budgets > 0).all()):
        return budgets.to(mb["advantages"].device)[:, None]
    return step.agg_constant


def policy_objective(model: torch.nn.Module, mb: dict[str, Any], step: PolicyStep) -> tuple[torch.Tensor, dict[str, float]]:
    """The RL policy loss (rlvr.algorithms.losses.policy_loss) on response tokens."""
    cfg = step.algorithm
    if _compiled_head is not None:
        logp, entropy = _compiled_head(_forward_logits(model, mb)[:, :-1], mb["input_ids"][:, 1:],
                                       step.temperature, cfg.entropy_coef > 0)
        logp, entropy = _unpack(logp, mb), _unpack(entropy, mb)
    else:
        logits = _scaled(_forward_logits(model, mb)[:, :-1], step.temperature)
        logp = _unpack(_gather_logprobs(logits, mb["input_ids"][:, 1:]), mb)
        if cfg.entropy_coef > 0:
            entropy = _unpack(entropy_from_logits(logits, chunk_size=1024), mb)
        else:
            with torch.no_grad():
                entropy = _unpack(entropy_from_logits(logits.detach(), chunk_size=1024), mb)
    old_logp = mb.get("old_logp")
    if old_logp is None:
        old_logp = mb["rollout_logp"] if cfg.old_logprobs == "engine" else logp.detach()
    loss, stats = policy_loss(
        logp, old_logp, mb["rollout_logp"], mb["advantages"], mb["loss_mask"], cfg,
        eps_low=step.eps_low, eps_high=step.eps_high,
        global_tokens=step.global_tokens, global_seqs=step.global_seqs, agg_constant=agg_divisor(mb, step),
        ref_logp=mb.get("ref_logp"), entropy=entropy,
    )
    return loss, {k: float(v) for k, v in stats.items()}


def causal_lm_objective(model: torch.nn.Module, mb: dict[str, Any],
                        step: CausalLMStep) -> tuple[torch.Tensor, dict[str, float]]:
    """Next-token cross-entropy summed over label tokens / the step's global label-token count.

    `labels` are aligned with `input_ids` (the Hugging Face convention) with IGNORE_INDEX where no loss is
    taken: padding, a document's first token after a packing boundary, prompt tokens in SFT.
    """
    logits = _forward_logits(model, mb)[:, :-1].float()
    labels = mb["labels"][:, 1:]
    valid = labels != IGNORE_INDEX
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.clamp_min(0).reshape(-1), reduction="none"
    ).view_as(labels)
    nll = nll * valid
    loss = nll.sum() / float(step.global_tokens)
    return loss, {"loss_sum": float(nll.sum().detach()), "label_tokens": float(valid.sum())}
