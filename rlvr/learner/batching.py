"""Turn samples into padded micro-batches, balanced over workers with equal counts.

Alignment: position j of `loss_mask`, `rollout_logp` and `old_logp` is the prediction of token
j+1 from tokens <= j, so a response token at index i of the full sequence sits at j = i - 1.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from rlvr.rollout.types import Sample


def balance(items: Sequence[Sample], num_workers: int) -> list[list[Sample]]:
    """Greedy longest-first assignment so workers see similar token counts (deterministic)."""
    order = sorted(range(len(items)), key=lambda i: (-(len(items[i].prompt_ids) + len(items[i].response_ids)), i))
    shards: list[list[Sample]] = [[] for _ in range(num_workers)]
    load = [0] * num_workers
    for i in order:
        w = min(range(num_workers), key=lambda k: (load[k], len(shards[k]), k))
        shards[w].append(items[i])
        load[w] += len(items[i].prompt_ids) + len(items[i].response_ids)
    return shards


def policy_tensors(samples: Sequence[Sample], pad_id: int, use_mask: Sequence[bool] | None = None) -> dict[str, Any]:
    """Right-padded tensors for the policy objective. `use_mask[i]` False keeps sample i out of the loss."""
    lengths = [len(s.prompt_ids) + len(s.response_ids) for s in samples]
    width = max(lengths)
    b = len(samples)
    input_ids = torch.full((b, width), pad_id, dtype=torch.long)
    attention = torch.zeros((b, width), dtype=torch.long)
    loss_mask = torch.zeros((b, width - 1), dtype=torch.bool)
    rollout_logp = torch.zeros((b, width - 1), dtype=torch.float32)
    for i, s in enumerate(samples):
        ids = list(s.prompt_ids) + list(s.response_ids)
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        start = len(s.prompt_ids) - 1
        end = start + len(s.response_ids)
        if use_mask is None or use_mask[i]:
            loss_mask[i, start:end] = True
        rollout_logp[i, start:end] = torch.tensor(s.rollout_logprobs, dtype=torch.float32)
    position_ids = (attention.cumsum(-1) - 1).clamp_min(0)
    return {
        "input_ids": input_ids,
        "attention_mask": attention,
        "position_ids": position_ids,
        "loss_mask": loss_mask,
        "rollout_logp": rollout_logp,
        "advantages": torch.tensor([s.advantage for s in samples], dtype=torch.float32),
        "num_tokens": int(sum(lengths)),
    }


def policy_shards(samples: Sequence[Sample], num_workers: int, micro_batch_size: int, pad_id: int,
                  in_loss: dict[int, bool] | None = None) -> list[list[dict[str, Any]]]:
    """Micro-batches per worker, padded to equal counts with zero-weight copies.

    `in_loss` maps id(sample) to whether its tokens count in the loss (masked truncations).
    """
    if not samples:
        raise ValueError("policy_shards: no samples")
    shards = balance(samples, num_workers)
    per_worker: list[list[dict[str, Any]]] = []
    for shard in shards:
        mbs = []
        for k in range(0, len(shard), micro_batch_size):
            chunk = shard[k : k + micro_batch_size]
            mask = None if in_loss is None else [in_loss.get(id(s), True) for s in chunk]
            mbs.append(policy_tensors(chunk, pad_id, mask))
        per_worker.append(mbs)
    most = max(len(m) for m in per_worker)
    filler = zero_weight(policy_tensors(samples[:1], pad_id))
    for mbs in per_worker:
        while len(mbs) < most:
            # A collective needs every worker in every forward/backward: run one that adds nothing.
            mbs.append(filler)
    return per_worker


def zero_weight(mb: dict[str, Any]) -> dict[str, Any]:
    out = dict(mb)
    out["loss_mask"] = torch.zeros_like(mb["loss_mask"])
    out["num_tokens"] = 0
    return out


def count_loss_tokens(shards: list[list[dict[str, Any]]]) -> tuple[int, int]:
    """(response tokens in the loss, sequences with any token in the loss) over all workers."""
    tokens = 0
    seqs = 0
    for mbs in shards:
        for mb in mbs:
            tokens += int(mb["loss_mask"].sum())
            seqs += int((mb["loss_mask"].sum(-1) > 0).sum())
    return tokens, seqs
