"""Pack tokenized documents into fixed-length rows whose documents cannot see each other.

Each row carries ``position_ids`` that restart at 0 at every document; ``labels`` are IGNORE_INDEX wherever a token
must not be a prediction target: the first token of each document (nothing of its own precedes it) and padding.
Documents keep their order; a document that does not fit in what is left of a row starts the next row, and a
document longer than ``seq_len`` is cut into ``seq_len`` pieces, each treated as its own document.

Attention across documents, as transformers 5.x does it (masking_utils._preprocess_mask_arguments): it derives a
block-diagonal causal mask from restarting ``position_ids`` ONLY when ``attention_mask`` is None AND there is no
KV cache. Qwen2 models default to ``use_cache=True`` (taken from the config), which makes a DynamicCache in
every forward, training included, and then the position_ids are ignored for masking and tokens attend across
documents. So do not rely on it: pass ``packed_attention_mask(position_ids)`` (a 4-D mask transformers uses
as given) for sdpa/eager. flash_attention_* kernels take no dense mask; for them pass position_ids with
``use_cache=False`` (see :func:`packed_forward_kwargs`).
"""
from __future__ import annotations

from typing import Sequence

import torch

from rlvr.types import IGNORE_INDEX


def pack_documents(token_lists: Sequence[Sequence[int]], seq_len: int, eos_id: int) -> list[dict]:
    """Pack documents (lists of token ids) into rows of exactly ``seq_len`` tokens.

    ``eos_id`` is appended to every document that does not already end with it, so the model learns where a
    document stops; it also fills the tail of a row (as padding: its own position run, labels IGNORE_INDEX).
    Returns dicts of python lists: input_ids, labels, position_ids (all ``seq_len`` long) and doc_lens.
    """
    if seq_len < 2:
        raise ValueError(f"seq_len must be >= 2, got {seq_len}")
    rows: list[dict] = []
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    doc_lens: list[int] = []

    def flush() -> None:
        pad = seq_len - len(ids)
        if pad:
            ids.extend([eos_id] * pad)
            labels.extend([IGNORE_INDEX] * pad)
            positions.extend(range(pad))  # a run of its own, so padding and real tokens never mix
        rows.append({"input_ids": ids.copy(), "labels": labels.copy(), "position_ids": positions.copy(),
                     "doc_lens": doc_lens.copy()})
        ids.clear(), labels.clear(), positions.clear(), doc_lens.clear()

    for index, doc in enumerate(token_lists):
        doc = list(doc)
        if not doc:
            continue  # an empty document has nothing to learn from, not even its end
        if any(not isinstance(t, int) or t < 0 for t in doc):
            raise ValueError(f"document {index}: token ids must be non-negative ints")
        if doc[-1] != eos_id:
            doc.append(eos_id)
        for start in range(0, len(doc), seq_len):
            piece = doc[start:start + seq_len]
            if len(ids) + len(piece) > seq_len:
                flush()
            ids.extend(piece)
            labels.append(IGNORE_INDEX)
            labels.extend(piece[1:])
            positions.extend(range(len(piece)))
            doc_lens.append(len(piece))
    if ids:
        flush()
    return rows


def collate(rows: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Stack packed rows into (batch, seq_len) long tensors: input_ids, labels, position_ids."""
    return {key: torch.tensor([row[key] for row in rows], dtype=torch.long)
            for key in ("input_ids", "labels", "position_ids")}


def document_ids(position_ids: torch.Tensor) -> torch.Tensor:
    """(batch, seq) -> (batch, seq) index of the document each token belongs to (a new one where positions
    do not continue by +1)."""
    if position_ids.dim() != 2:
        raise ValueError(f"position_ids must be (batch, seq), got shape {tuple(position_ids.shape)}")
    starts = torch.ones_like(position_ids, dtype=torch.bool)
    starts[:, 1:] = position_ids[:, 1:] != position_ids[:, :-1] + 1
    return starts.long().cumsum(-1)


def packed_attention_mask(position_ids: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Block-diagonal causal mask (batch, 1, seq, seq) for packed rows.

    dtype None: boolean, True where attention is allowed (what sdpa takes). A float dtype: additive mask, 0
    where allowed and the dtype's minimum elsewhere (what the eager implementation adds to the scores).
    """
    docs = document_ids(position_ids)
    seq = position_ids.shape[1]
    causal = torch.ones(seq, seq, dtype=torch.bool, device=position_ids.device).tril()
    allowed = (docs[:, :, None] == docs[:, None, :]) & causal
    allowed = allowed[:, None]
    if dtype is None:
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=position_ids.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)


def packed_forward_kwargs(batch: dict[str, torch.Tensor], attn_implementation: str,
                          dtype: torch.dtype = torch.float32) -> dict[str, object]:
    """Keyword arguments for ``model(**kwargs)`` on a collated packed batch, without cross-document attention."""
    kwargs: dict[str, object] = {"input_ids": batch["input_ids"], "position_ids": batch["position_ids"],
                                 "use_cache": False}
    if attn_implementation == "sdpa":
        kwargs["attention_mask"] = packed_attention_mask(batch["position_ids"])
    elif attn_implementation == "eager":
        kwargs["attention_mask"] = packed_attention_mask(batch["position_ids"], dtype)
    elif not attn_implementation.startswith("flash_attention"):
        # flex and others would need their own mask format; refuse rather than leak across documents
        raise ValueError(f"packed batches are not supported with attn_implementation={attn_implementation!r}; "
                         "use sdpa, eager or flash_attention_2")
    return kwargs
