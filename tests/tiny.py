"""A tiny checkpoint made in a second, for tests that need real weights (vLLM, FSDP)."""
from __future__ import annotations

from pathlib import Path


def make_tiny_checkpoint(out: Path, seed: int = 0, layers: int = 2) -> str:
    from rlvr.data.builtin import load_builtin
    from rlvr.models.tiny import init_model, tiny_qwen2_config
    from rlvr.models.tokenizer import train_tokenizer

    if (out / "config.json").exists():
        return str(out)
    docs = load_builtin("arithmetic").pretrain_corpus(300, seed)
    tok = train_tokenizer(docs, vocab_size=400, out_dir=out)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    cfg = tiny_qwen2_config(len(tok), num_layers=layers, intermediate_size=256, eos_token_id=tok.eos_token_id,
                            bos_token_id=tok.eos_token_id, pad_token_id=pad)
    init_model(cfg, seed).save_pretrained(out)
    return str(out)
