"""The BPE tokenizer: round trip, special tokens, digit splitting, and loading back from disk."""
from __future__ import annotations

import pytest

from rlvr.data.builtin import load_builtin
from rlvr.models.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer

arith = load_builtin("arithmetic")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    tok = train_tokenizer(arith.pretrain_corpus(400, seed=0), vocab_size=400, out_dir=out)
    return tok, out


def test_round_trip_on_task_text_and_unseen_unicode(saved):
    tok, _ = saved
    texts = arith.pretrain_corpus(30, seed=9) + ["Zoë paid 1,234.50 € — ok?\n\n", "<think> 7 + 5 = 12 </think>"]
    for text in texts:
        assert tok.decode(tok(text)["input_ids"]) == text


def test_special_tokens(saved):
    tok, _ = saved
    assert tok.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2, 3, 4]
    assert tok.eos_token == tok.pad_token == tok.bos_token == "<|endoftext|>" and tok.eos_token_id == 0
    for special in SPECIAL_TOKENS:  # never split into pieces
        assert len(tok(f"a{special}b")["input_ids"]) == 3
    ids = tok("<|im_start|>user\nhi<|im_end|>")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "user\nhi"
    assert tok(" 12")["input_ids"] != [] and tok.eos_token_id not in tok("Answer: 12")["input_ids"]


def test_numbers_split_into_single_digits(saved):
    tok, _ = saved
    pieces = tok.convert_ids_to_tokens(tok(" 144 and 7")["input_ids"])
    assert pieces[:4] == ["Ġ", "1", "4", "4"] and pieces[-2:] == ["Ġ", "7"]
    # every number is digit-tokenized the same way whatever its corpus frequency
    assert len(tok(" 987654")["input_ids"]) == 7


def test_saved_directory_loads_with_auto_tokenizer(saved):
    tok, out = saved
    assert (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file()
    loaded = load_tokenizer(out)
    text = arith.format_prompt(arith.generate("eval", 1, 0)[0])
    assert loaded(text)["input_ids"] == tok(text)["input_ids"] and len(loaded) == len(tok) == 400
    assert loaded.eos_token_id == 0
    chat = loaded.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_qwen2_checkpoint_dir_loads_the_same_tokenization(saved, tmp_path):
    """AutoTokenizer in a directory with a qwen2 config.json builds Qwen2Tokenizer, which rebuilds the
    normaliser and pre-tokenizer from Qwen2's own pattern: ours must be identical to it (vLLM loads it so)."""
    from rlvr.models.tiny import tiny_qwen2_config

    tok, _ = saved
    tok.save_pretrained(tmp_path)
    tiny_qwen2_config(len(tok)).save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert type(loaded).__name__ == "Qwen2Tokenizer"
    texts = arith.pretrain_corpus(40, seed=4) + ["Zoë 12,345 — 7.5%\n\n<think>x</think>", "e\u0301 café"]
    for text in texts:
        assert loaded(text)["input_ids"] == tok(text)["input_ids"], text
    assert loaded.eos_token_id == tok.eos_token_id == 0 and loaded.pad_token_id == 0


def test_vocab_too_small_is_refused():
    with pytest.raises(ValueError, match="vocab_size must be > 261"):
        train_tokenizer(["abc"], vocab_size=200)
