"""Per-token policy-gradient losses and their exact aggregation over micro-batches and workers.

Shapes: ``logp``/``old_logp``/``rollout_logp``/``ref_logp``/``mask`` are ``[B, T]`` (``mask`` is a BoolTensor
that is True on response tokens); advantages are ``[B]`` (one per response, broadcast over its tokens) or
``[B, T]``. A row is one response unless ``segment_ids`` (``[B, T]`` ints, one id per response) says that a
row packs several; segment ids only need to be distinct within one micro-batch.

The learner's objective, per token t of response i (OlmoRL, Olmo 3 Eq. 1; DAPO Eq. 8; CAMPO Eq. 5):

    rho = exp(logp - old_logp)
    l   = w * max(-A rho, -A clip(rho, 1 - eps_low, 1 + eps_high))     (w: truncated importance weight)
    l   = min(l, -A c w)                    where A < 0 and dual clip c is on (verl ``clip_ratio_c``)
    l  += beta * KL_k(pi || pi_ref) - entropy_coef * H                   (both off in OlmoRL and CAMPO)

then aggregated by ``aggregate`` so that the sum over all micro-batches and workers of one optimizer
step is the exact step objective (token mean, sequence mean or constant divisor).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from rlvr.algorithms.config import KL_ESTIMATORS, LOSS_AGG_MODES, TIS_LEVELS, AlgorithmConfig


def _broadcast_advantages(advantages: Tensor, like: Tensor) -> Tensor:
    if advantages.dim() == 1 and advantages.shape[0] == like.shape[0]:
        return advantages[:, None].to(like.dtype)
    if advantages.shape == like.shape:
        return advantages.to(like.dtype)
    raise ValueError(
        f"advantages must be [B] or [B, T] matching logp {tuple(like.shape)}, got {tuple(advantages.shape)}"
    )


def clipped_surrogate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    eps_low: float,
    eps_high: float,
    dual_clip_c: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """PPO clipped surrogate per token with decoupled bounds and optional dual clip.

    rho = exp(logp - old_logp);  loss = max(-A rho, -A clamp(rho, 1 - eps_low, 1 + eps_high));
    dual clip (A < 0 only): loss = min(loss, -A c).

    Returns ``(per_token_loss, is_clipped_low, is_clipped_high)``; the flags mark tokens whose gradient the
    clip removed: ``A < 0 and rho < 1 - eps_low`` (low) and ``A > 0 and rho > 1 + eps_high`` (high).
    """
    if not 0.0 <= eps_low < 1.0:
        raise ValueError(f"eps_low must be in [0, 1), got {eps_low}")
    if eps_high < 0.0:
        raise ValueError(f"eps_high must be >= 0, got {eps_high}")
    if dual_clip_c is not None and dual_clip_c <= 1.0:
        raise ValueError(f"algorithm.dual_clip_c must be > 1 (or null), got {dual_clip_c}")
    if old_logp.shape != logp.shape:
        raise ValueError(f"old_logp shape {tuple(old_logp.shape)} != logp shape {tuple(logp.shape)}")
    adv = _broadcast_advantages(advantages, logp)
    ratio = torch.exp(logp - old_logp)
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - eps_low, 1.0 + eps_high)
    loss = torch.maximum(unclipped, clipped)
    if dual_clip_c is not None:
        loss = torch.where(adv < 0, torch.minimum(loss, -adv * dual_clip_c), loss)
    ratio_d = ratio.detach()
    is_clipped_low = (adv < 0) & (ratio_d < 1.0 - eps_low)
    is_clipped_high = (adv > 0) & (ratio_d > 1.0 + eps_high)
    return loss, is_clipped_low, is_clipped_high


def _segment_sum_broadcast(values: Tensor, mask: Tensor, segment_ids: Tensor | None) -> Tensor:
    """Sum ``values`` over the masked tokens of each response and write the sum back onto its tokens."""
    if segment_ids is None:
        sums = torch.where(mask, values, torch.zeros_like(values)).sum(-1, keepdim=True)
        return sums.expand_as(values)
    seg = segment_ids[mask]
    uniq, inverse = torch.unique(seg, return_inverse=True)
    sums = torch.zeros(uniq.numel(), dtype=values.dtype, device=values.device)
    sums = sums.index_add(0, inverse, values[mask])
    out = torch.zeros_like(values)
    out[mask] = sums[inverse]
    return out


def tis_weights(
    old_logp: Tensor,
    rollout_logp: Tensor,
    mask: Tensor,
    cap: float,
    level: str = "token",
    *,
    segment_ids: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Truncated importance-sampling weights correcting the learner/vLLM mismatch (no gradient).

    token:    w_t = min(exp(old_logp_t - rollout_logp_t), cap)
    sequence: w_t = min(exp(sum_{s in response} (old_logp_s - rollout_logp_s)), cap) for every token t of it
    There is no lower bound (Olmo 3). Padding positions get w = 0. OlmoRL multiplies both surrogate terms by
    w before the max, which equals multiplying the per-token loss by w because w > 0.

    Returns ``(w, capped)``: ``capped`` marks the response tokens whose weight the cap cut.
    """
    if level not in ("token", "sequence"):
        raise ValueError(f"algorithm.tis must be one of {TIS_LEVELS} (got {level!r})")
    if cap <= 0:
        raise ValueError(f"algorithm.tis_cap must be > 0, got {cap}")
    if rollout_logp.shape != old_logp.shape:
        raise ValueError(f"rollout_logp shape {tuple(rollout_logp.shape)} != old_logp {tuple(old_logp.shape)}")
    with torch.no_grad():
        zero = torch.zeros((), dtype=old_logp.dtype, device=old_logp.device)
        log_ratio = torch.where(mask, old_logp - rollout_logp, zero)
        if level == "sequence":
            log_ratio = _segment_sum_broadcast(log_ratio, mask, segment_ids)
        log_cap = math.log(cap)
        capped = (log_ratio > log_cap) & mask
        w = torch.where(capped, torch.full_like(log_ratio, cap), torch.exp(log_ratio.clamp(max=log_cap)))
        w = torch.where(mask, w, zero)
    return w, capped


def kl_penalty(logp: Tensor, ref_logp: Tensor, estimator: str = "k3") -> Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the sampled token, with d = logp - ref_logp.

    k1 = d;  k2 = d^2 / 2;  k3 = exp(-d) - 1 + d = expm1(ref_logp - logp) - (ref_logp - logp)  (>= 0).
    """
    if ref_logp.shape != logp.shape:
        raise ValueError(f"ref_logp shape {tuple(ref_logp.shape)} != logp shape {tuple(logp.shape)}")
    d = logp - ref_logp
    if estimator == "k1":
        return d
    if estimator == "k2":
        return 0.5 * d * d
    if estimator == "k3":
        return torch.expm1(-d) + d
    raise ValueError(f"algorithm.kl_estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")


def _entropy_rows(logits: Tensor) -> Tensor:
    z = logits.float()
    # log_softmax subtracts the max first, so large logits lose no precision (lse - sum p z would cancel).
    logq = torch.log_softmax(z, dim=-1)
    p = logq.exp()
    # p is exactly 0 where z = -inf (masked vocabulary); zeroing logq there avoids 0 * -inf = nan.
    logq = torch.where(torch.isneginf(z), torch.zeros_like(logq), logq)
    return -(p * logq).sum(-1)


def entropy_from_logits(logits: Tensor, chunk_size: int | None = None) -> Tensor:
    """Per-position entropy H = -sum_v q_v log q_v, q = softmax(z), of logits ``[..., V]`` -> ``[...]``.

    Computed in float32 from log_softmax, so it is stable for large logits and -inf (masked) entries.
    ``chunk_size`` processes that many positions at a time so the float32 softmax of a long sequence never
    exists all at once.
    """
    if logits.dim() < 1:
        raise ValueError("logits must have a vocabulary dimension")
    if chunk_size is None:
        return _entropy_rows(logits)
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    flat = logits.reshape(-1, logits.shape[-1])
    parts = [_entropy_rows(chunk) for chunk in flat.split(chunk_size, dim=0)]
    return torch.cat(parts).reshape(logits.shape[:-1])


def aggregate(
    per_token_loss: Tensor,
    mask: Tensor,
    mode: str,
    *,
    global_tokens: float | None = None,
    global_seqs: float | None = None,
    constant: float | Tensor | None = None,
    segment_ids: Tensor | None = None,
) -> Tensor:
    """This micro-batch's share of the optimizer-step loss, so that summing the shares of every
    micro-batch (gradient accumulation) on every data-parallel worker gives exactly:

    token    (OlmoRL, DAPO, CAMPO): sum_{all tokens} l / global_tokens
    seq_mean (GRPO):                (1 / global_seqs) * sum_i (1/|o_i|) sum_{t in o_i} l_t
    constant (Dr. GRPO):            sum_{all tokens} l / (global_seqs * constant)

    ``constant`` is a float, or a tensor broadcastable to ``per_token_loss`` (e.g. ``[B, 1]``) giving each
    sequence its own divisor C_i (the budget it was sampled with): sum_i sum_{t in o_i} l_t / (global_seqs * C_i).

    ``global_tokens`` is the number of response tokens in the whole step across all workers and
    accumulation steps, ``global_seqs`` the number of responses (with at least one response token).
    FSDP/DDP average gradients over the world size; the learner multiplies this value by world_size to undo
    that averaging. That is deliberately not done here.
    """
    if mask.dtype != torch.bool or mask.shape != per_token_loss.shape:
        raise ValueError(f"mask must be a BoolTensor of shape {tuple(per_token_loss.shape)}")
    masked = torch.where(mask, per_token_loss, torch.zeros_like(per_token_loss))
    if mode == "token":
        if global_tokens is None or global_tokens <= 0:
            raise ValueError(f"loss_agg=token needs global_tokens > 0, got {global_tokens}")
        return masked.sum() / global_tokens
    if global_seqs is None or global_seqs <= 0:
        raise ValueError(f"loss_agg={mode} needs global_seqs > 0, got {global_seqs}")
    if mode == "seq_mean":
        ones = torch.ones_like(per_token_loss)
        if segment_ids is None:
            per_seq = masked.sum(-1) / mask.sum(-1).clamp_min(1)
            return per_seq.sum() / global_seqs
        seq_len = _segment_sum_broadcast(ones, mask, segment_ids)
        return torch.where(mask, masked / seq_len.clamp_min(1.0), torch.zeros_like(masked)).sum() / global_seqs
    if mode == "constant":
        if isinstance(constant, Tensor):
            if not bool((constant > 0).all()):
                raise ValueError("loss_agg=constant needs positive per-sequence divisors (the sampled budgets)")
            return (masked / constant).sum() / global_seqs
        if constant is None or constant <= 0:
            raise ValueError(f"loss_agg=constant needs a positive constant (max_tokens), got {constant}")
        return masked.sum() / (global_seqs * constant)
    raise ValueError(f"algorithm.loss_agg must be one of {LOSS_AGG_MODES}, got {mode!r}")


def policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    rollout_logp: Tensor | None,
    advantages: Tensor,
    mask: Tensor,
    cfg: AlgorithmConfig,
    *,
    eps_low: float,
    eps_high: float,
    global_tokens: float | None = None,
    global_seqs: float | None = None,
    agg_constant: float | Tensor | None = None,
    ref_logp: Tensor | None = None,
    entropy: Tensor | None = None,
    segment_ids: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Full per-micro-batch policy loss for an ``AlgorithmConfig`` ``cfg`` (see the module docstring).

    per_token = w * surrogate(eps_low, eps_high, cfg.dual_clip_c)
                + cfg.kl_coef * kl_penalty(logp, ref_logp, cfg.kl_estimator) - cfg.entropy_coef * entropy
    loss = aggregate(per_token, mask, cfg.loss_agg, ...)
    w comes from ``tis_weights(old_logp, rollout_logp, cfg.tis_cap, cfg.tis)`` (1 when cfg.tis == "none").
    ``eps_low``/``eps_high`` come from the length schedule's current stage. ``agg_constant`` is the Dr. GRPO
    divisor; when None, cfg.loss_agg_constant is used (it must then be > 0).

    Returns ``(loss, stats)``: stats are SUMS over this micro-batch's response tokens (``tokens``, ``seqs``,
    ``clip_low``, ``clip_high``, ``clip_dual``, ``tis_weight``, ``tis_clipped``, ``approx_kl_old`` (k3 of
    new vs old), ``loss`` (full per-token loss), ``pg_loss`` (weighted surrogate), and ``entropy`` /
    ``kl_ref`` when given); add them over micro-batches and workers, then divide by the token count.
    """
    if mask.dtype != torch.bool or mask.shape != logp.shape:
        raise ValueError(f"mask must be a BoolTensor with logp's shape {tuple(logp.shape)}")
    zero = torch.zeros((), dtype=torch.float32, device=logp.device)

    def clean(t: Tensor) -> Tensor:
        # Padding may hold garbage log-probs; replacing them keeps nan/inf out of the graph.
        return torch.where(mask, t.float(), zero)

    logp_f, old_f = clean(logp), clean(old_logp).detach()
    loss_pg, clips = _surrogate(logp_f, old_f, advantages.float(), mask, cfg, eps_low, eps_high)
    if cfg.tis != "none":
        if rollout_logp is None:
            raise ValueError(f"algorithm.tis={cfg.tis!r} needs rollout_logp (the engine's log-probs)")
        w, tis_capped = tis_weights(old_f, clean(rollout_logp).detach(), mask, cfg.tis_cap, cfg.tis,
                                    segment_ids=segment_ids)
    else:
        w, tis_capped = mask.float(), torch.zeros_like(mask)
    pg = loss_pg * w
    ref_f = None if ref_logp is None else clean(ref_logp).detach()
    per_token, sums = _regularised(pg, logp_f, ref_f, entropy, mask, cfg)

    constant = agg_constant if agg_constant is not None else (cfg.loss_agg_constant or None)
    loss = aggregate(per_token, mask, cfg.loss_agg, global_tokens=global_tokens, global_seqs=global_seqs,
                     constant=constant, segment_ids=segment_ids)
    sums.update(clips)
    sums.update(tis_weight=torch.where(mask, w, zero).sum(), tis_clipped=tis_capped.sum(),
                loss=torch.where(mask, per_token.detach(), zero).sum(), pg_loss=torch.where(mask, pg.detach(), zero).sum())
    return loss, _loss_stats(logp_f, old_f, mask, segment_ids, sums)


def _surrogate(logp_f: Tensor, old_f: Tensor, adv_f: Tensor, mask: Tensor, cfg: AlgorithmConfig, eps_low: float,
               eps_high: float) -> tuple[Tensor, dict[str, Tensor]]:
    """The clipped surrogate per token, with the counts of tokens each clip touched (low, high, dual)."""
    loss_pg, clip_low, clip_high = clipped_surrogate(logp_f, old_f, adv_f, eps_low, eps_high, cfg.dual_clip_c)
    adv = _broadcast_advantages(adv_f, logp_f)
    ratio = torch.exp(logp_f - old_f).detach()
    if cfg.dual_clip_c is not None:
        clip_dual = (adv < 0) & (ratio > cfg.dual_clip_c) & mask
    else:
        clip_dual = torch.zeros_like(mask)
    return loss_pg, {"clip_low": (clip_low & mask).sum(), "clip_high": (clip_high & mask).sum(),
                     "clip_dual": clip_dual.sum()}


def _regularised(pg: Tensor, logp_f: Tensor, ref_f: Tensor | None, entropy: Tensor | None, mask: Tensor,
                 cfg: AlgorithmConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """pg + kl_coef * KL(pi || pi_ref) - entropy_coef * H per token, with the KL and entropy sums for the stats."""
    zero = torch.zeros((), dtype=torch.float32, device=pg.device)
    per_token = pg
    sums: dict[str, Tensor] = {}
    if cfg.kl_coef:
        if ref_f is None:
            raise ValueError(f"algorithm.kl_coef={cfg.kl_coef} needs ref_logp from the reference policy")
        kl = kl_penalty(logp_f, ref_f, cfg.kl_estimator)
        per_token = per_token + cfg.kl_coef * kl
        sums["kl_ref"] = torch.where(mask, kl.detach(), zero).sum()
    if entropy is not None:
        if entropy.shape != logp_f.shape:
            raise ValueError(f"entropy shape {tuple(entropy.shape)} != logp shape {tuple(logp_f.shape)}")
        sums["entropy"] = torch.where(mask, entropy.detach().float(), zero).sum()
    if cfg.entropy_coef:
        if entropy is None:
            raise ValueError(f"algorithm.entropy_coef={cfg.entropy_coef} needs the per-token entropy")
        per_token = per_token - cfg.entropy_coef * entropy.float()
    return per_token, sums


def _loss_stats(logp_f: Tensor, old_f: Tensor, mask: Tensor, segment_ids: Tensor | None,
                sums: dict[str, Tensor]) -> dict[str, float]:
    """The stats as Python floats, in the documented order, with one device->host copy for all of them."""
    zero = torch.zeros((), dtype=torch.float32, device=logp_f.device)
    if segment_ids is None:
        seqs = mask.any(-1).sum()
    else:
        seqs = torch.tensor(torch.unique(segment_ids[mask]).numel(), device=mask.device)
    approx_kl_old = torch.where(mask, kl_penalty(logp_f.detach(), old_f, "k3"), zero)
    values = {"tokens": mask.sum(), "seqs": seqs, "clip_low": sums["clip_low"], "clip_high": sums["clip_high"],
              "clip_dual": sums["clip_dual"], "tis_weight": sums["tis_weight"], "tis_clipped": sums["tis_clipped"],
              "approx_kl_old": approx_kl_old.sum(), "loss": sums["loss"], "pg_loss": sums["pg_loss"]}
    for optional in ("entropy", "kl_ref"):
        if optional in sums:
            values[optional] = sums[optional]
    flat = torch.stack([v.float() for v in values.values()]).tolist()
    return dict(zip(values, flat))
