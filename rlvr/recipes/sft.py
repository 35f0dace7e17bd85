"""SFT for Think: chat-formatted reasoning traces, loss on the assistant's tokens only.

The Think chat template is ChatML whose assistant turns carry their reasoning in ``<think>…</think>``
before the answer. The assistant part sits in a ``{% generation %}`` block, so transformers'
``apply_chat_template(..., return_assistant_tokens_mask=True)`` marks exactly the tokens the model
must learn to produce: ``<think>``, the reasoning, ``</think>``, the answer and ``<|im_end|>``.
Everything else (system and user turns, the ``<|im_start|>assistant`` header) gets label IGNORE_INDEX (-100).

Examples are not packed by default (one example per row, padded per micro-batch, padding in a
position run of its own); ``sft.packing`` packs them with restarting positions instead.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Sequence

from rlvr.data.builtin import load_builtin
from rlvr.data.reader import SUFFIXES, DataError, read_rows
from rlvr.types import IGNORE_INDEX

THINK_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}"
    "{%- if message.get('reasoning_content') -%}"
    "{{- '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n' -}}"
    "{%- endif -%}"
    "{{- message['content'] + '<|im_end|>' -}}"
    "{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
STOP = ["<|im_end|>"]


class SFTDataError(ValueError):
    """An SFT file or row that cannot be used; names the file, row and field."""


def load_chat_template(spec: str) -> str:
    return THINK_CHAT_TEMPLATE if spec == "think" else Path(spec).read_text(encoding="utf-8")


def render_think_text(messages: Sequence[dict[str, str]]) -> str:
    """What THINK_CHAT_TEMPLATE renders, without a tokenizer (midtraining uses traces as plain documents)."""
    parts = []
    for m in messages:
        if m["role"] == "assistant":
            think = f"<think>\n{m['reasoning_content']}\n</think>\n" if m.get("reasoning_content") else ""
            parts.append(f"<|im_start|>assistant\n{think}{m['content']}<|im_end|>\n")
        else:
            parts.append(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n")
    return "".join(parts)


def synthesize_traces(dataset: str, n: int, seed: int, split: str = "train") -> list[list[dict[str, str]]]:
    """Reasoning-trace conversations from a builtin dataset's word problems.

    arithmetic: the user asks the question; the assistant thinks "<why> a op b = r." and answers
    "Answer: r". The reason is the template's own worked rationale (datasets/arithmetic.py TEMPLATES),
    so every trace uses the correct operation.
    """
    module = load_builtin(dataset)
    templates = getattr(module, "TEMPLATES", None)
    if templates is None:
        raise SFTDataError(f"think:{dataset}: the dataset has no TEMPLATES to build reasoning traces from")
    out = []
    for row in module.generate(split, n, seed):
        op, _, why = templates[row["template"]]
        a, b = row["operands"]
        # Every question starts with its main character's name, which the rationale may mention.
        reason = why.replace("{n1}", row["question"].split()[0])
        out.append([
            {"role": "user", "content": row["question"]},
            {"role": "assistant", "reasoning_content": f"{reason} {a} {op} {b} = {row['answer']}.",
             "content": f"Answer: {row['answer']}"},
        ])
    return out


def _check_messages(where: str, messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise SFTDataError(f"{where}: field 'messages': expected a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise SFTDataError(f"{where}: field 'messages[{i}]': needs string 'role' and 'content'")
        if m["role"] not in ("system", "user", "assistant"):
            raise SFTDataError(f"{where}: field 'messages[{i}].role': unknown role {m['role']!r}")
    if not any(m["role"] == "assistant" for m in messages):
        raise SFTDataError(f"{where}: field 'messages': no assistant turn to learn from")
    return messages


def load_conversations(spec: str, max_examples: int, seed: int) -> list[list[dict[str, str]]]:
    """Conversations from ``think:DATASET`` (synthesised) or a JSONL/Parquet file of {"messages": [...]}."""
    if spec.startswith("think:"):
        return synthesize_traces(spec.split(":", 1)[1], max_examples or 1000, seed)
    path = Path(spec)
    if not path.is_file() or path.suffix not in SUFFIXES:
        raise SFTDataError(f"{spec}: not a think:DATASET generator nor an existing {'/'.join(SUFFIXES)} file")
    try:
        rows = read_rows(path)
    except DataError as exc:
        raise SFTDataError(str(exc)) from None
    out = [_check_messages(f"{path} row {number}", raw.get("messages")) for number, raw in rows]
    if max_examples and len(out) > max_examples:
        keep = sorted(random.Random(seed).sample(range(len(out)), max_examples))
        out = [out[i] for i in keep]
    return out


def encode(tokenizer: Any, messages: Sequence[dict[str, str]]) -> dict[str, list[int]]:
    """input_ids, labels (IGNORE_INDEX outside assistant turns) and position_ids of one conversation."""
    out = tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids = list(out["input_ids"])
    mask = list(out["assistant_masks"])
    if not any(mask):
        raise SFTDataError("the chat template marked no assistant tokens; it needs a {% generation %} block")
    return {"input_ids": ids, "labels": [t if m else IGNORE_INDEX for t, m in zip(ids, mask)],
            "position_ids": list(range(len(ids)))}


def pack_examples(examples: Sequence[dict[str, list[int]]], seq_len: int, pad_id: int) -> list[dict[str, list[int]]]:
    """Encoded examples packed into rows of seq_len; each keeps its labels and restarts its positions."""
    rows: list[dict[str, list[int]]] = []
    cur: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}

    def flush() -> None:
        pad = seq_len - len(cur["input_ids"])
        cur["input_ids"] += [pad_id] * pad
        cur["labels"] += [IGNORE_INDEX] * pad
        cur["position_ids"] += list(range(pad))
        rows.append({k: list(v) for k, v in cur.items()})
        for v in cur.values():
            v.clear()

    for ex in examples:
        if len(ex["input_ids"]) > seq_len:
            raise ValueError(f"an example of {len(ex['input_ids'])} tokens does not fit a {seq_len}-token row")
        if len(cur["input_ids"]) + len(ex["input_ids"]) > seq_len:
            flush()
        for k in cur:
            cur[k] += ex[k]
    if cur["input_ids"]:
        flush()
    return rows


def build_sft_rows(tokenizer: Any, sources: Sequence[str], max_examples: int, max_len: int, seed: int,
                   packing: bool, seq_len: int) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Training rows from every SFT source and a summary (examples, dropped as too long, label tokens)."""
    examples: list[dict[str, list[int]]] = []
    per_source = []
    dropped = 0
    for k, spec in enumerate(sources):
        conversations = load_conversations(spec, max_examples, seed + k)
        kept = 0
        for conv in conversations:
            ex = encode(tokenizer, conv)
            if len(ex["input_ids"]) > max_len:
                dropped += 1
                continue
            examples.append(ex)
            kept += 1
        per_source.append({"source": spec, "examples": kept})
    if not examples:
        raise SFTDataError(f"no SFT example fits sft.max_len={max_len}")
    random.Random(seed).shuffle(examples)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = pack_examples(examples, max(seq_len, max_len), pad) if packing else examples
    summary = {"examples": len(examples), "dropped_too_long": dropped, "rows": len(rows), "sources": per_source,
               "label_tokens": sum(sum(t != IGNORE_INDEX for t in ex["labels"]) for ex in examples),
               "tokens": sum(len(ex["input_ids"]) for ex in examples)}
    return rows, summary
