"""Fixtures for the recipe tests: a word-level stand-in tokenizer (exact token arithmetic) and tiny checkpoints."""
from __future__ import annotations

import zlib
from pathlib import Path

import pytest


class WordTokenizer:
    """One token per whitespace-separated word (ids 1..997, stable across processes); eos is 0.

    The mixer only needs `tokenizer(texts, add_special_tokens=False)["input_ids"]` and `eos_token_id`,
    so budgets can be checked exactly: a document of w words counts w + 1 tokens once packed.
    """

    eos_token_id = 0
    name_or_path = "word-tokenizer"

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[1 + zlib.crc32(w.encode()) % 997 for w in t.split()] for t in texts]}


@pytest.fixture
def word_tokenizer() -> WordTokenizer:
    return WordTokenizer()


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A real BPE tokenizer (with the chat specials) trained on a little arithmetic text."""
    from rlvr.data.builtin import load_builtin
    from rlvr.models.tokenizer import train_tokenizer

    arithmetic = load_builtin("arithmetic")
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(arithmetic.pretrain_corpus(600, 0) + arithmetic.midtrain_corpus(300, 0), vocab_size=400, out_dir=out)
    return out


@pytest.fixture(scope="session")
def make_checkpoint(tiny_tokenizer_dir, tmp_path_factory):
    """make_checkpoint(name, seed, **config) -> a saved tiny Qwen2 checkpoint dir with the tokenizer."""
    import shutil

    from rlvr.models.tiny import init_model, tiny_qwen2_config

    root = tmp_path_factory.mktemp("ckpts")

    def make(name: str, seed: int = 0, **overrides) -> Path:
        kwargs = dict(hidden_size=64, num_layers=1, num_heads=1, head_dim=64, intermediate_size=128,
                      max_position_embeddings=128)
        kwargs.update(overrides)
        config = tiny_qwen2_config(400, **kwargs)
        out = root / name
        init_model(config, seed).save_pretrained(out)
        for f in Path(tiny_tokenizer_dir).iterdir():
            shutil.copy2(f, out / f.name)
        return out

    return make
