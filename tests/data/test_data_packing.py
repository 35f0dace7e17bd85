"""Packing: restarting positions, labels that never cross a document boundary, and no cross-document attention."""
from __future__ import annotations

import pytest
import torch

from rlvr.data.packing import (IGNORE_INDEX, collate, document_ids, pack_documents, packed_attention_mask,
                               packed_forward_kwargs)
from rlvr.models.tiny import init_model, tiny_qwen2_config

EOS = 0


def test_rows_have_fixed_length_restarting_positions_and_eos():
    docs = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14, 15]]
    rows = pack_documents(docs, seq_len=8, eos_id=EOS)
    assert all(len(r[k]) == 8 for r in rows for k in ("input_ids", "labels", "position_ids"))
    assert rows[0]["input_ids"] == [5, 6, 7, EOS, 8, 9, EOS, EOS]
    assert rows[0]["position_ids"] == [0, 1, 2, 3, 0, 1, 2, 0]  # the pad tail is a run of its own
    assert rows[0]["labels"] == [IGNORE_INDEX, 6, 7, EOS, IGNORE_INDEX, 9, EOS, IGNORE_INDEX]
    assert rows[1]["input_ids"][:7] == [10, 11, 12, 13, 14, 15, EOS] and rows[1]["doc_lens"] == [7]


def test_labels_never_cross_a_boundary():
    docs = [[i + 1] * (3 + i % 5) for i in range(40)]
    for row in pack_documents(docs, seq_len=16, eos_id=EOS):
        ids, labels, pos = row["input_ids"], row["labels"], row["position_ids"]
        for i in range(len(ids)):
            if pos[i] == 0:
                assert labels[i] == IGNORE_INDEX  # a document's first token is never predicted from another's
            elif labels[i] != IGNORE_INDEX:
                assert labels[i] == ids[i] and pos[i] == pos[i - 1] + 1
        # every real document is kept whole: tokens before the padding all carry their own document's label
        assert sum(row["doc_lens"]) <= 16


def test_long_documents_are_cut_and_nothing_is_lost():
    docs = [list(range(1, 21)), [30, 31]]
    rows = pack_documents(docs, seq_len=8, eos_id=EOS)
    real = [t for r in rows for t, p in zip(r["input_ids"], r["labels"]) if p != IGNORE_INDEX or t != EOS]
    assert [t for t in real if t != EOS] == list(range(1, 21)) + [30, 31]
    assert all(max(r["position_ids"]) < 8 for r in rows)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="seq_len"):
        pack_documents([[1]], seq_len=1, eos_id=EOS)
    with pytest.raises(ValueError, match="document 1"):
        pack_documents([[1], [2, -3]], seq_len=8, eos_id=EOS)


def test_mask_is_block_diagonal_causal():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0]])
    assert document_ids(pos).tolist() == [[1, 1, 1, 2, 2, 3]]
    mask = packed_attention_mask(pos)[0, 0]
    assert mask[2, :3].all() and not mask[2, 3:].any()
    assert mask[4].tolist() == [False, False, False, True, True, False]
    additive = packed_attention_mask(pos, torch.float32)[0, 0]
    assert additive[4, 3] == 0 and additive[4, 2] == torch.finfo(torch.float32).min


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_changing_document_one_leaves_document_two_untouched(attn):
    config = tiny_qwen2_config(64, num_layers=2, attn_implementation=attn)
    model = init_model(config, seed=0).eval()
    doc2 = [10, 11, 12, 13]
    batches = [collate(pack_documents([doc1, doc2], 16, EOS)) for doc1 in ([5, 6, 7, 8, 9], [20, 21, 22, 23, 24])]
    with torch.no_grad():
        logits = [model(**packed_forward_kwargs(b, attn)).logits[0] for b in batches]
        alone = model(input_ids=torch.tensor([doc2 + [EOS]]), use_cache=False).logits[0]
    assert not torch.allclose(logits[0][:6], logits[1][:6])  # document 1 itself did change
    assert torch.allclose(logits[0][6:11], logits[1][6:11], atol=1e-6, rtol=0)
    assert torch.allclose(logits[0][6:11], alone, atol=1e-5, rtol=0)  # as if document 2 were alone


def test_unsupported_attention_is_refused():
    batch = collate(pack_documents([[1, 2]], 4, EOS))
    with pytest.raises(ValueError, match="flex_attention"):
        packed_forward_kwargs(batch, "flex_attention")
    assert "attention_mask" not in packed_forward_kwargs(batch, "flash_attention_2")
