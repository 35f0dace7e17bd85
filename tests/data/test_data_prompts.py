"""Prompt loading: built-in generator, user files with errors naming file/row/field, and the public sets."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr.data.builtin import list_builtin, load_builtin
from rlvr.config import DataConfig
from rlvr.data.prompts import (DEFAULT_STOP, DataError, PromptRow, TokenizedPrompt, load_prompt_set, load_prompt_sets,
                               load_prompts, stop_strings)
from rlvr.paths import DATASETS_DIR

PUBLIC = DATASETS_DIR / "public"
KNOWN = {"math", "code", "exact"}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_builtin_arithmetic_rows():
    rows = load_prompts("arithmetic", split="eval", n=16, seed=3)
    module = load_builtin("arithmetic")
    assert "arithmetic" in list_builtin() and module is load_builtin("arithmetic")
    assert len(rows) == 16 and len({r.id for r in rows}) == 16
    for row, raw in zip(rows, module.generate("eval", 16, 3)):
        assert row.prompt == module.format_prompt(raw) and row.ground_truth == raw["answer"]
        assert row.verifier == "math" and row.metadata["template"] == raw["template"]


def test_stop_strings():
    assert stop_strings("arithmetic") == load_builtin("arithmetic").STOP
    assert stop_strings("gsm8k") == stop_strings("x/train.jsonl") == ["\n\n", "Question:"]


def test_unknown_source_is_named():
    with pytest.raises(DataError, match="'nope'"):
        load_prompts("nope")


def test_jsonl_with_both_field_spellings(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [
        {"prompt": "Q1 formatted", "answer": "3", "id": "a"},
        {"question": "What is 2+2?", "ground_truth": 4, "verifier": "exact"},
        "",  # blank lines hold no row and do not count as one
        {"question": "Half of 5?", "answer": 2.5},
    ])
    rows = load_prompts(str(path), known_verifiers=KNOWN, prompt_template="Q: {question}\nA:")
    assert [r.id for r in rows] == ["a", "train-2", "train-4"]
    assert rows[0].prompt == "Q1 formatted"
    assert rows[1].prompt == "Q: What is 2+2?\nA:" and rows[1].ground_truth == "4" and rows[1].verifier == "exact"
    assert rows[2].ground_truth == "2.5" and rows[2].verifier == "math"
    assert len(load_prompts(str(path), n=2, seed=1, known_verifiers=KNOWN)) == 2


@pytest.mark.parametrize("bad_row, message", [
    ({"question": "q"}, "train.jsonl row 2: field 'answer'/'ground_truth' is missing"),
    ({"answer": "1"}, "train.jsonl row 2: field 'prompt'/'question' is missing"),
    ({"question": "  ", "answer": "1"}, "train.jsonl row 2: field 'question' is empty"),
    ({"question": 5, "answer": "1"}, "train.jsonl row 2: field 'question' must be a string"),
    ({"question": "q", "ground_truth": {"x": 1}}, "train.jsonl row 2: field 'ground_truth' (math): a math ground truth is"),
    ({"question": "q", "ground_truth": True}, "train.jsonl row 2: field 'ground_truth' must be a string, number, list"),
    ({"question": "q", "answer": "1", "verifier": "mth"}, "train.jsonl row 2: field 'verifier': unknown verifier 'mth'"),
    ({"question": "q", "answer": "1", "id": "x"}, "train.jsonl row 2: field 'id' 'x' repeats row 1"),
    ([1, 2], "train.jsonl row 2: expected a JSON object"),
    ('{"question": "q", ', "train.jsonl row 2: not valid JSON"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, bad_row, message):
    path = write_jsonl(tmp_path / "train.jsonl", [{"question": "ok", "answer": "1", "id": "x"}, bad_row])
    with pytest.raises(DataError) as err:
        load_prompts(str(path), known_verifiers=KNOWN)
    assert message in str(err.value)


def test_missing_empty_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="absent.jsonl: file not found"):
        load_prompts(str(tmp_path / "absent.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="empty.jsonl: no rows"):
        load_prompts(str(tmp_path / "empty.jsonl"))


def test_parquet_rows_are_validated(tmp_path):
    good = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}]), good)
    assert [r.ground_truth for r in load_prompts(str(good), known_verifiers=KNOWN)] == ["2", "4"]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": None}]), bad)
    with pytest.raises(DataError, match=r"bad.parquet row 2: field 'answer'/'ground_truth' is missing"):
        load_prompts(str(bad), known_verifiers=KNOWN)


@pytest.mark.parametrize("name, size, first_answer", [
    ("gsm8k", 1319, "18"), ("minerva_math", 272, "1.6"), ("aime24", 30, "204"), ("amc23", 40, "27")])
def test_public_sets(name, size, first_answer):
    rows = load_prompts(f"{name}:{PUBLIC / name / 'test.jsonl'}")
    assert len(rows) == size and rows[0].ground_truth == first_answer
    assert all(r.verifier == "math" and r.prompt.endswith("\nSolution:") for r in rows)
    assert len({r.id for r in rows}) == size
    # The bare name reads the copy shipped in datasets/public, with its licence; "eval" is its test split.
    assert load_prompts(name, split="test") == rows == load_prompts(name, split="eval")
    assert (PUBLIC / name / "LICENSE").is_file()


def test_public_set_errors_name_the_row(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [{"question": "q", "answer": "x\n#### 3"}, {"question": "q", "answer": "no final"}])
    with pytest.raises(DataError, match="test.jsonl row 2: field 'answer' has no '####'"):
        load_prompts(f"gsm8k:{path}")
    path = write_jsonl(tmp_path / "m.jsonl", [{"problem": "p", "solution": "so \\boxed{\\frac{1}{2}}"}])
    assert load_prompts(f"minerva_math:{path}")[0].ground_truth == "\\frac{1}{2}"


class CharTokenizer:
    """Stands in for a Hugging Face tokenizer: one id per character, a ChatML-like chat template."""

    chat_template = "ChatML"

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[ord(c) for c in t] for t in texts]}

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def test_one_stop_rule_for_every_prompt_set(tmp_path):
    # The default experiment's stops must not change: arithmetic keeps its own STOP.
    tok = CharTokenizer()
    arith = load_prompt_set("arithmetic", "eval", 4, 0, tok)
    assert arith.stop == load_builtin("arithmetic").STOP == stop_strings("arithmetic")
    # Public sets and files of bare questions use the default completion template, so its stops.
    assert load_prompt_set("amc23", "test", 3, 0, tok).stop == DEFAULT_STOP
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "1+1?", "answer": "2"}])
    assert load_prompt_set(str(path), "train", None, 0, tok).stop == DEFAULT_STOP
    # A chat template ends a turn with its own marker, found by rendering one: that is the set's stop.
    assert load_prompt_set("arithmetic", "eval", 4, 0, tok, chat=True).stop == ["<|im_end|>"]


def test_prompt_sets_hold_explicit_fields_and_token_ids(tmp_path):
    tok = CharTokenizer()
    (row,) = load_prompts("arithmetic", split="eval", n=1, seed=5)
    (tp,) = load_prompt_set("arithmetic", "eval", 1, 5, tok).rows
    assert isinstance(tp, TokenizedPrompt) and isinstance(tp, PromptRow)
    assert {f.name for f in dataclasses.fields(tp)} == {"id", "prompt", "ground_truth", "verifier", "question",
                                                         "metadata", "messages", "prompt_ids"}
    assert (tp.id, tp.prompt, tp.ground_truth, tp.verifier, tp.question, tp.metadata) == \
        (row.id, row.prompt, row.ground_truth, row.verifier, row.question, row.metadata)
    assert tp.prompt_ids == [ord(c) for c in row.prompt]
    (chat,) = load_prompt_set("arithmetic", "eval", 1, 5, tok, chat=True).rows
    assert chat.prompt == tok.apply_chat_template([{"role": "user", "content": row.question}], add_generation_prompt=True)
    assert chat.prompt_ids == [ord(c) for c in chat.prompt]
    empty = write_jsonl(tmp_path / "e.jsonl", [{"question": "q", "answer": "1"}])
    with pytest.raises(DataError, match="split 'train' has no rows"):
        load_prompt_set(str(empty), "train", 0, 0, tok)


def test_train_and_eval_sets_from_the_data_config():
    tok = CharTokenizer()
    data = DataConfig(source="arithmetic", train_size=6, eval_size=3, seed=2)
    train, evals = load_prompt_sets(data, tok)
    assert [r.id for r in train.rows] == [r.id for r in load_prompts("arithmetic", "train", 6, 2)]
    assert [r.id for r in evals.rows] == [r.id for r in load_prompts("arithmetic", "eval", 3, 3)]
    _, public = load_prompt_sets(DataConfig(source="arithmetic", eval_source="aime24", eval_size=0), tok)
    assert len(public.rows) == 30 and public.stop == DEFAULT_STOP


def test_gsm8k_ships_its_train_split_and_other_sets_only_their_test_split():
    train = load_prompts("gsm8k", split="train")
    assert len(train) == 7473 and train[0].ground_truth == "72"  # Natalia's clips: 48 + 24
    with pytest.raises(DataError, match=r"minerva_math has no 'train' split here \(splits: test\); name a file"):
        load_prompts("minerva_math", split="train")
