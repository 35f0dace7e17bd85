"""Group-relative advantage estimators (one scalar per response, broadcast over its tokens by the loss).

For a group g of responses to the same prompt with rewards r_1..r_G (mean m, std s):

* ``centered``      A_i = r_i - m                                  (OlmoRL, Olmo 3 Eq. 2; Dr. GRPO)
* ``standardized``  A_i = (r_i - m) / (s + eps)                     (GRPO; CAMPO, MiroMind-M1 Eq. 6)
                    s is the population std (divide by G) or, with ``std_unbiased``, the sample std
                    (divide by G - 1, what ``torch.std`` in verl/CAMPO uses).
* ``rloo``          A_i = r_i - (sum_{j != i} r_j) / (G - 1) = G / (G - 1) * (r_i - m)

Everything is vectorised over groups with ``index_add_``; there is no Python loop per group.
"""
from __future__ import annotations

import torch
from torch import Tensor

from rlvr.algorithms.config import ADVANTAGE_KINDS


def dense_group_index(group_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Map arbitrary integer group ids to 0..G-1.

    Returns ``(inverse, unique_ids)``: ``inverse[i]`` is the dense index of sample i's group and
    ``unique_ids[k]`` the original id of dense group k (sorted ascending).
    """
    if group_ids.dim() != 1:
        raise ValueError(f"group_ids must be 1-D [N], got shape {tuple(group_ids.shape)}")
    if group_ids.dtype.is_floating_point or group_ids.dtype == torch.bool:
        raise TypeError(f"group_ids must be an integer tensor, got {group_ids.dtype}")
    unique_ids, inverse = torch.unique(group_ids, sorted=True, return_inverse=True)
    return inverse, unique_ids


def compute_advantages(
    rewards: Tensor,
    group_ids: Tensor,
    kind: str,
    *,
    std_eps: float = 1e-6,
    std_unbiased: bool = False,
    valid: Tensor | None = None,
) -> Tensor:
    """Per-response advantages ``A[N]`` from rewards ``r[N]`` grouped by ``group_ids[N]``.

    kind = "centered":     A_i = r_i - mean_g(r)
    kind = "standardized": A_i = (r_i - mean_g(r)) / (std_g(r) + std_eps); a group of one response gets 0
                           (verl would give it r_i itself because it uses mean 0 / std 1 there; with no
                           other sample there is no relative signal, so 0 is the honest value).
    kind = "rloo":         A_i = r_i - mean_{j in g, j != i}(r_j); a group of one gets 0.

    ``valid`` (optional BoolTensor[N]) removes rows from the group statistics and gives them A = 0; use it
    to take truncated responses out of the group mean *before* the advantage (pass None to keep them in).
    The maths runs in float64; the result has the rewards' floating dtype (float32 for integer rewards).
    """
    if kind not in ADVANTAGE_KINDS:
        raise ValueError(f"algorithm.advantage must be one of {ADVANTAGE_KINDS}, got {kind!r}")
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D [N], got shape {tuple(rewards.shape)}")
    if group_ids.shape != rewards.shape:
        raise ValueError(
            f"group_ids shape {tuple(group_ids.shape)} does not match rewards shape {tuple(rewards.shape)}"
        )
    if std_eps < 0:
        raise ValueError(f"algorithm.std_eps must be >= 0, got {std_eps}")
    if valid is None:
        valid = torch.ones_like(rewards, dtype=torch.bool)
    elif valid.shape != rewards.shape or valid.dtype != torch.bool:
        raise ValueError(f"valid must be a BoolTensor of shape {tuple(rewards.shape)}")
    bad = valid & ~torch.isfinite(rewards.double())
    if bool(bad.any()):
        raise ValueError(f"rewards must be finite; non-finite at rows {bad.nonzero().flatten().tolist()[:10]}")

    out_dtype = rewards.dtype if rewards.dtype.is_floating_point else torch.float32
    inverse, unique_ids = dense_group_index(group_ids)
    num_groups = unique_ids.numel()
    weight = valid.double()
    r = torch.where(valid, rewards.double(), torch.zeros((), dtype=torch.float64, device=rewards.device))

    count = torch.zeros(num_groups, dtype=torch.float64, device=rewards.device).index_add_(0, inverse, weight)
    total = torch.zeros_like(count).index_add_(0, inverse, r)
    mean = total / count.clamp_min(1.0)
    dev = (r - mean[inverse]) * weight
    n = count[inverse]

    if kind == "centered":
        adv = dev
    elif kind == "rloo":
        adv = torch.where(n > 1, dev * n / (n - 1).clamp_min(1.0), torch.zeros_like(dev))
    else:
        sq = torch.zeros_like(count).index_add_(0, inverse, dev * dev)
        dof = count - 1.0 if std_unbiased else count
        std = (sq / dof.clamp_min(1.0)).sqrt()
        adv = torch.where(n > 1, dev / (std[inverse] + std_eps), torch.zeros_like(dev))
    return (adv * weight).to(out_dtype)
