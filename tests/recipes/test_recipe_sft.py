"""Think SFT: the chat template emits <think>...</think>, and only assistant tokens carry labels."""
from __future__ import annotations

import json

import pytest
import torch

from rlvr.recipes.sft import (IGNORE_INDEX, THINK_CHAT_TEMPLATE, SFTDataError, build_sft_rows, encode,
                              load_conversations, pack_examples, render_think_text, synthesize_traces)

CONV = [
    {"role": "system", "content": "You solve word problems."},
    {"role": "user", "content": "Ava has 7 apples. She buys 5 more apples. How many apples does Ava have now?"},
    {"role": "assistant", "reasoning_content": "Buying more adds. 7 + 5 = 12.", "content": "Answer: 12"},
    {"role": "user", "content": "And if she then eats 2?"},
    {"role": "assistant", "reasoning_content": "Eating takes away. 12 - 2 = 10.", "content": "Answer: 10"},
]


@pytest.fixture(scope="module")
def think_tokenizer(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    tok.chat_template = THINK_CHAT_TEMPLATE
    return tok


def test_template_renders_think_blocks_like_the_plain_renderer(think_tokenizer):
    text = think_tokenizer.apply_chat_template(CONV, tokenize=False)
    assert text == render_think_text(CONV)
    assert "<|im_start|>assistant\n<think>\nBuying more adds. 7 + 5 = 12.\n</think>\nAnswer: 12<|im_end|>\n" in text
    prompt = think_tokenizer.apply_chat_template(CONV[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_labels_cover_exactly_the_assistant_turns(think_tokenizer):
    ex = encode(think_tokenizer, CONV)
    ids, labels = ex["input_ids"], ex["labels"]
    assert len(ids) == len(labels) == len(ex["position_ids"]) and ex["position_ids"] == list(range(len(ids)))
    # every label is either ignored or the token itself (aligned with input_ids; the objective shifts)
    assert all(l in (IGNORE_INDEX, t) for t, l in zip(ids, labels))
    spans, cur = [], []
    for t, l in zip(ids, labels):
        if l != IGNORE_INDEX:
            cur.append(t)
        elif cur:
            spans.append(cur)
            cur = []
    if cur:
        spans.append(cur)
    decoded = [think_tokenizer.decode(s) for s in spans]
    assert decoded == ["<think>\nBuying more adds. 7 + 5 = 12.\n</think>\nAnswer: 12<|im_end|>",
                       "<think>\nEating takes away. 12 - 2 = 10.\n</think>\nAnswer: 10<|im_end|>"]
    ignored = think_tokenizer.decode([t for t, l in zip(ids, labels) if l == IGNORE_INDEX])
    assert "You solve word problems." in ignored and "How many apples" in ignored and "eats 2" in ignored
    assert "Answer" not in ignored and "<think>" not in ignored
    assert labels[0] == IGNORE_INDEX  # a row never starts with a target


def test_a_template_without_generation_blocks_is_refused(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))  # the plain ChatML template
    with pytest.raises(SFTDataError, match="generation"):
        encode(tok, CONV)


def test_packing_keeps_labels_and_restarts_positions(think_tokenizer):
    examples = [encode(think_tokenizer, c) for c in synthesize_traces("arithmetic", 12, 0)]
    width = max(len(e["input_ids"]) for e in examples)
    rows = pack_examples(examples, 2 * width, pad_id=0)
    assert len(rows) < len(examples)
    flat = [(t, l) for r in rows for t, l, p in zip(r["input_ids"], r["labels"], r["position_ids"])]
    assert sum(l != IGNORE_INDEX for _, l in flat) == sum(l != IGNORE_INDEX for e in examples for l in e["labels"])
    for r in rows:
        assert len(r["input_ids"]) == 2 * width
        starts = [i for i, p in enumerate(r["position_ids"]) if p == 0]
        assert all(r["labels"][i] == IGNORE_INDEX for i in starts)  # nothing is predicted across an example boundary
    with pytest.raises(ValueError, match="does not fit"):
        pack_examples(examples, 8, pad_id=0)


def test_unpacked_rows_are_padded_without_attention_or_loss(think_tokenizer):
    from rlvr.data.packing import packed_attention_mask
    from rlvr.learner.causal_lm import micro_batches

    examples = [encode(think_tokenizer, c) for c in synthesize_traces("arithmetic", 4, 1)]
    shards = micro_batches(examples, num_workers=2, micro_batch_size=2, pad_id=0)
    assert len(shards) == 2 and all(len(s) == 1 for s in shards)
    for worker, part in enumerate(shards):
        mb = part[0]
        rows = examples[worker::2]
        for i, ex in enumerate(rows):
            n = len(ex["input_ids"])
            assert mb["input_ids"][i, :n].tolist() == ex["input_ids"]
            assert (mb["labels"][i, n:] == IGNORE_INDEX).all()
            allowed = packed_attention_mask(mb["position_ids"][i:i + 1])[0, 0]
            assert not allowed[:n, n:].any() and not allowed[n:, :n].any()  # padding is a document of its own


def test_trace_synthesis_and_jsonl_sources(tmp_path):
    traces = synthesize_traces("arithmetic", 16, 0)
    assert len(traces) == 16
    for conv in traces:
        user, assistant = conv
        answer = assistant["content"].removeprefix("Answer: ")
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert assistant["reasoning_content"].endswith(f"= {answer}.")
    data = tmp_path / "sft.jsonl"
    data.write_text(json.dumps({"messages": CONV}) + "\n" + json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(SFTDataError, match=r"sft.jsonl row 2: field 'messages': no assistant turn"):
        load_conversations(str(data), 0, 0)
    data.write_text(json.dumps({"messages": CONV}) + "\n")
    assert load_conversations(str(data), 0, 0) == [CONV]


def test_build_rows_summary_counts_label_tokens(think_tokenizer):
    rows, summary = build_sft_rows(think_tokenizer, ["think:arithmetic"], 40, 10_000, 0, packing=False, seq_len=128)
    assert summary["examples"] == len(rows) == 40 and summary["dropped_too_long"] == 0
    assert summary["label_tokens"] == sum(sum(l != IGNORE_INDEX for l in r["labels"]) for r in rows)
    short = min(len(r["input_ids"]) for r in rows)
    _, limited = build_sft_rows(think_tokenizer, ["think:arithmetic"], 40, short, 0, packing=False, seq_len=128)
    assert 0 < limited["examples"] < 40 and limited["examples"] + limited["dropped_too_long"] == 40


def test_the_causal_lm_objective_ignores_masked_labels(think_tokenizer):
    from rlvr.learner.objectives import CausalLMStep, causal_lm_objective
    from rlvr.models.tiny import init_model, tiny_qwen2_config

    model = init_model(tiny_qwen2_config(len(think_tokenizer), hidden_size=64, num_layers=1, num_heads=1,
                                         head_dim=64, intermediate_size=64), 0)
    ex = encode(think_tokenizer, CONV)
    ids = torch.tensor([ex["input_ids"]])
    labels = torch.tensor([ex["labels"]])
    n_label = int((labels[:, 1:] != IGNORE_INDEX).sum())
    loss, stats = causal_lm_objective(model, {"input_ids": ids, "labels": labels}, CausalLMStep(global_tokens=n_label))
    assert stats["label_tokens"] == n_label
    logits = model(input_ids=ids).logits[0, :-1]
    targets = labels[0, 1:]
    keep = targets != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    assert torch.allclose(loss, expected, atol=1e-5)
