"""CAMPO repetition penalty (MiroMind-M1 §4.3, Eq. 6): detect a loop at the end of a response.

Detection follows the released detector's semantics on token ids: for every period L in 1..n//2, count how
many consecutive blocks of L tokens, walking left from the end of the response, equal the block after them
(exact equality; stop at the first mismatch). The period qualifies when the block occurs at least
``min_repeats`` times (the last block included). The LARGEST qualifying L wins, and

    f(o) = (n - loop_start) / n,   loop_start = n - k * L   (k = number of equal blocks)

is the share of the response inside the trailing loop (0 when no period qualifies).

Speed: the number of matching positions behind the end for period L, m_L = #{consecutive j >= 0 with
s[j] == s[j + L]} on the reversed sequence s, is exactly the Z-function of s at L. The Z-function is computed
for all L at once in O(n), and then k_L = 1 + m_L // L. A 16k-token response takes milliseconds in pure
Python (see bench/repetition_detector.py), versus O(n^2) for comparing blocks period by period.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from rlvr.algorithms.config import PENALTY_FORMS


def _z_function(s: Sequence[int]) -> list[int]:
    """z[i] = length of the longest common prefix of s and s[i:] (z[0] = len(s))."""
    n = len(s)
    z = [0] * n
    if n == 0:
        return z
    z[0] = n
    left = right = 0
    for i in range(1, n):
        zi = 0
        if i < right:
            zi = min(right - i, z[i - left])
        while i + zi < n and s[zi] == s[i + zi]:
            zi += 1
        z[i] = zi
        if i + zi > right:
            left, right = i, i + zi
    return z


def loop_fraction(token_ids: Tensor | Sequence[int], min_repeats: int = 2) -> float:
    """f(o) in [0, 1]: fraction of the response covered by its trailing loop (largest qualifying period).

    Examples: [..,7,7] with n = 8 -> 0.25; [9,8,7,6] + [1,2,3]*3 -> 9/13; [1,2,3,7,7]*2 -> 1.0; no loop -> 0.
    """
    if min_repeats < 2:
        raise ValueError(f"algorithm.repetition.min_repeats must be >= 2, got {min_repeats}")
    if isinstance(token_ids, Tensor):
        if token_ids.dim() != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {tuple(token_ids.shape)}")
        ids = token_ids.tolist()
    else:
        ids = list(token_ids)
    n = len(ids)
    if n < min_repeats:
        return 0.0
    z = _z_function(ids[::-1])
    # Scan from the largest period down: the first one that qualifies is the one the detector keeps.
    for period in range(n // 2, 0, -1):
        blocks = 1 + z[period] // period
        if blocks >= min_repeats:
            return blocks * period / n
    return 0.0


def loop_fractions(ids: Tensor, lengths: Tensor, min_repeats: int = 2, rows: Tensor | None = None) -> Tensor:
    """Batched ``loop_fraction`` over right-padded ``ids[B, T]`` with response lengths ``lengths[B]``.

    ``rows`` (optional BoolTensor[B]) restricts the work to those rows; the others get 0.
    Returns float32 ``[B]`` on ids' device.
    """
    if ids.dim() != 2:
        raise ValueError(f"ids must be [B, T], got shape {tuple(ids.shape)}")
    if lengths.shape != (ids.shape[0],):
        raise ValueError(f"lengths must be [B] = [{ids.shape[0]}], got {tuple(lengths.shape)}")
    lens = lengths.tolist()
    bad = [i for i, n in enumerate(lens) if n < 0 or n > ids.shape[1]]
    if bad:
        raise ValueError(f"lengths out of range [0, {ids.shape[1]}] at rows {bad[:10]}")
    todo = [True] * len(lens) if rows is None else rows.tolist()
    host = ids.cpu()
    out = [loop_fraction(host[i, : lens[i]].tolist(), min_repeats) if todo[i] else 0.0 for i in range(len(lens))]
    return torch.tensor(out, dtype=torch.float32, device=ids.device)


def repetition_penalty(ids: Tensor, lengths: Tensor, truncated: Tensor | None, cfg: Any) -> Tensor:
    """Penalty p[B] >= 0 that the trainer subtracts from each reward before the group advantage.

    form "fraction" (paper Eq. 6): p = coef * f(o)
    form "constant" (released code): p = coef if f(o) > 0 else 0 (the code used coef 0.1)
    With ``cfg.only_truncated`` only responses flagged in ``truncated`` (cut at max_tokens) are checked.
    ``cfg`` is a ``RepetitionConfig``; when ``cfg.enabled`` is False the penalty is all zeros.
    """
    batch = ids.shape[0]
    if not cfg.enabled:
        return torch.zeros(batch, dtype=torch.float32, device=ids.device)
    if cfg.form not in PENALTY_FORMS:
        raise ValueError(f"algorithm.repetition.form must be one of {PENALTY_FORMS}, got {cfg.form!r}")
    rows = None
    if cfg.only_truncated:
        if truncated is None or truncated.shape != (batch,) or truncated.dtype != torch.bool:
            raise ValueError("algorithm.repetition.only_truncated needs truncated as a BoolTensor[B]")
        rows = truncated
    frac = loop_fractions(ids, lengths, cfg.min_repeats, rows=rows)
    if cfg.form == "fraction":
        return cfg.coef * frac
    return cfg.coef * (frac > 0).float()
