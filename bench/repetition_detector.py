"""Time the CAMPO trailing-loop detector on 16k-token responses.

    PYTHONPATH=. python bench/repetition_detector.py [--batch 16] [--tokens 16384]

Prints the time of ``loop_fractions`` (Z-function, O(n) per response) for a batch of looping responses, a
batch of random (non-looping) responses and a batch over a tiny vocabulary (many short accidental matches,
the hardest case for the Z-function's inner loop), plus the per-period tensor method (compare ids[:-L] with
ids[L:] for every L, O(n^2)) on one response as the baseline it replaces, checking that both agree.
"""
from __future__ import annotations

import argparse
import time

import torch

from rlvr.algorithms.repetition import loop_fractions


def per_period_tensor(ids: torch.Tensor, min_repeats: int = 2) -> float:
    """Baseline: trailing run of ids[i] == ids[i + L] for every period L via a reversed cumprod."""
    n = ids.numel()
    best = 0.0
    for period in range(1, n // 2 + 1):
        eq = (ids[:-period] == ids[period:]).flip(0).int()
        run = int(eq.cumprod(0).sum())
        blocks = 1 + run // period
        if blocks >= min_repeats:
            best = blocks * period / n
    return best


def make_batch(kind: str, batch: int, tokens: int, gen: torch.Generator) -> torch.Tensor:
    if kind == "random":
        return torch.randint(0, 32000, (batch, tokens), generator=gen)
    if kind == "tiny_vocab":
        return torch.randint(0, 4, (batch, tokens), generator=gen)
    rows = []
    for b in range(batch):
        start = tokens // 8 * (b % 8)  # loops that begin at 0, 1/8, ..., 7/8 of the response
        period = 5 + 13 * b
        prefix = torch.randint(32000, 64000, (start,), generator=gen)
        block = torch.randint(0, 32000, (period,), generator=gen)
        rows.append(torch.cat([prefix, block.repeat(tokens // period + 1)[: tokens - start]]))
    return torch.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=16384)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    lengths = torch.full((args.batch,), args.tokens)
    print(f"loop_fractions, B={args.batch}, n={args.tokens} tokens each")
    for kind in ("looping", "random", "tiny_vocab"):
        ids = make_batch(kind, args.batch, args.tokens, gen)
        start = time.perf_counter()
        frac = loop_fractions(ids, lengths)
        elapsed = time.perf_counter() - start
        print(f"  {kind:>10}: {elapsed:7.3f} s total, {elapsed / args.batch * 1e3:7.1f} ms/response, "
              f"mean f(o) = {frac.mean():.3f}")
        one = ids[1]  # in the looping batch its loop starts 1/8 into the response
        start = time.perf_counter()
        baseline = per_period_tensor(one)
        base_time = time.perf_counter() - start
        assert abs(baseline - float(frac[1])) < 1e-6, (kind, baseline, float(frac[1]))
        print(f"  {'':>10}  per-period tensor baseline on 1 response: {base_time:7.3f} s (agrees: f = {baseline:.3f})")


if __name__ == "__main__":
    main()
