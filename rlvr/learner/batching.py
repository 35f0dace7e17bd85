"""Turn samples into padded micro-batches, balanced over workers with equal counts.

Alignment: position j of `loss_mask`, `rollout_logp` and `old_logp` is the prediction of token
j+1 from tokens <= j, so a response token at index i of the full sequence sits at j = i - 1.

Packing (`learner.pack`, `pack_policy_batch`, on by default): the model runs on rows holding several sequences each
(position ids restart per sequence, rlvr.data.packing's block-causal mask keeps them apart), and the
per-token log-probs are put back into the padded layout above before the loss, so everything the loss
sees, its token normalisation included, is what it sees without packing.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

import torch

from rlvr.algorithms.sampling import mask_truncated
from rlvr.types import Sample

T = TypeVar("T")


def worker_micro_batches(parts: Sequence[Sequence[T]], micro_batch_size: int,
                         build: Callable[[Sequence[T]], dict[str, Any]],
                         filler: Callable[[list[list[dict[str, Any]]]], dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Worker w's items `parts[w]` -> its micro-batches of at most `micro_batch_size`, built by `build`.

    Every worker ends with the same count: the short ones are padded with `filler(micro_batches)`, a
    micro-batch that adds nothing to the loss, because a collective needs every worker in every
    forward/backward. The filler is only built when some worker is short.
    """
    per_worker = [[build(part[k : k + micro_batch_size]) for k in range(0, len(part), micro_batch_size)]
                  for part in parts]
    most = max(len(m) for m in per_worker)
    if any(len(m) < most for m in per_worker):
        pad = filler(per_worker)
        for mbs in per_worker:
            mbs.extend([pad] * (most - len(mbs)))
    return per_worker


def _balance_indices(lengths: Sequence[int], num_workers: int) -> list[list[int]]:
    """Greedy longest-first assignment of item indices so workers see similar token counts (deterministic)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    shards: list[list[int]] = [[] for _ in range(num_workers)]
    load = [0] * num_workers
    for i in order:
        w = min(range(num_workers), key=lambda k: (load[k], len(shards[k]), k))
        shards[w].append(i)
        load[w] += lengths[i]
    return shards


def _length(s: Sample) -> int:
    return len(s.prompt_ids) + len(s.response_ids)


def balance(items: Sequence[Sample], num_workers: int) -> list[list[Sample]]:
    """Samples split over workers, longest first onto the least-loaded worker."""
    return [[items[i] for i in shard] for shard in _balance_indices([_length(s) for s in items], num_workers)]


def policy_tensors(samples: Sequence[Sample], pad_id: int, advantages: Sequence[float] | None = None,
                   drop_truncated: bool = False) -> dict[str, Any]:
    """Right-padded tensors for the policy objective (advantages 0 when not given: log-probs only).

    `drop_truncated` takes truncated responses out of the loss (algorithm.overlong=mask), after their
    advantages were computed with the rest of their group.
    """
    lengths = [_length(s) for s in samples]
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
        loss_mask[i, start:end] = True
        rollout_logp[i, start:end] = torch.tensor(s.rollout_logprobs, dtype=torch.float32)
    if drop_truncated:
        loss_mask = mask_truncated(loss_mask, torch.tensor([s.truncated for s in samples], dtype=torch.bool))
    position_ids = (attention.cumsum(-1) - 1).clamp_min(0)
    return {
        "input_ids": input_ids,
        "attention_mask": attention,
        "position_ids": position_ids,
        "loss_mask": loss_mask,
        "rollout_logp": rollout_logp,
        "advantages": torch.tensor(list(advantages) if advantages is not None else [0.0] * b, dtype=torch.float32),
        "seq_budget": torch.tensor([float(s.max_tokens) for s in samples], dtype=torch.float32),
        "num_tokens": int(sum(lengths)),
    }


def _first_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Sequence indices per row, longest first into the first row with room (deterministic)."""
    rows: list[list[int]] = []
    used: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: (-lengths[k], k)):
        r = next((r for r in range(len(rows)) if used[r] + lengths[i] <= capacity), len(rows))
        if r == len(rows):
            rows.append([])
            used.append(0)
        rows[r].append(i)
        used[r] += lengths[i]
    return rows


def pack_policy_batch(mb: dict[str, Any], pad_id: int) -> dict[str, Any]:
    """A padded micro-batch (policy_tensors) with its sequences packed into rows as long as its longest one.

    `input_ids`/`position_ids` become [R, W] rows (R <= B); positions restart at 0 for every sequence and
    for the tail padding, whose run is a document of its own (rlvr.data.packing.document_ids), so no token
    attends across sequences. `unpack_index` [B, W-1] maps each padded-layout prediction to its place in
    the rows' flattened [R, W-1] predictions (padded places point at their sequence's first one; the loss
    masks them). Every other tensor stays in the padded layout.

    A micro-batch whose sequences cannot share a row (none is short enough to fit beside another) comes back as
    it is: packing would compute the same rows in another order behind a block mask, for nothing. That is every
    micro-batch of the default task (prompts of 37-42 tokens, responses up to 32), so `learner.pack` on by
    default leaves it bitwise as it was.
    """
    lengths = [int(n) for n in mb["attention_mask"].sum(-1).tolist()]
    width = mb["input_ids"].shape[1]
    rows = _first_fit(lengths, width)
    if len(rows) == len(lengths):
        return mb
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    unpack = torch.zeros((len(lengths), width - 1), dtype=torch.long)
    for r, members in enumerate(rows):
        offset = 0
        for i in members:
            n = lengths[i]
            input_ids[r, offset : offset + n] = mb["input_ids"][i, :n]
            position_ids[r, offset : offset + n] = torch.arange(n)
            unpack[i, :] = r * (width - 1) + offset
            unpack[i, : n - 1] += torch.arange(n - 1)
            offset += n
        position_ids[r, offset:] = torch.arange(width - offset)
    out = {k: v for k, v in mb.items() if k not in ("input_ids", "attention_mask", "position_ids")}
    out.update(input_ids=input_ids, position_ids=position_ids, unpack_index=unpack)
    return out


def policy_shards(samples: Sequence[Sample], advantages: Sequence[float], num_workers: int, micro_batch_size: int,
                  pad_id: int, drop_truncated: bool = False, pack: bool = False) -> list[list[dict[str, Any]]]:
    """Micro-batches per worker (balanced by tokens), padded to equal counts with zero-weight copies;
    `pack`: each micro-batch's sequences packed into rows (pack_policy_batch)."""
    if not samples:
        raise ValueError("policy_shards: no samples")
    if len(advantages) != len(samples):
        raise ValueError(f"policy_shards: {len(advantages)} advantages for {len(samples)} samples")
    parts = _balance_indices([_length(s) for s in samples], num_workers)

    def build(idx: Sequence[int]) -> dict[str, Any]:
        mb = policy_tensors([samples[i] for i in idx], pad_id, [advantages[i] for i in idx], drop_truncated)
        return pack_policy_batch(mb, pad_id) if pack else mb

    return worker_micro_batches(parts, micro_batch_size, build,
                                lambda _: zero_weight(policy_tensors(samples[:1], pad_id)))


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
