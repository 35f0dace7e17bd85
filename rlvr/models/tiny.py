"""Tiny Qwen2 models: the same architecture vLLM and the FSDP learner serve, small enough for two CPU cores."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from rlvr.models.tokenizer import train_tokenizer

# Head sizes vLLM's CPU attention backend compiles kernels for (vllm/v1/attention/backends/cpu_attn.py);
# a config outside this list would train here and then fail to load in the rollout engine.
VLLM_CPU_HEAD_DIMS = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def tiny_qwen2_config(
    vocab_size: int,
    hidden_size: int = 128,
    num_layers: int = 4,
    num_heads: int = 2,
    head_dim: int = 64,
    intermediate_size: int = 512,
    max_position_embeddings: int = 512,
    tie_word_embeddings: bool = True,
    num_kv_heads: int | None = None,
    rope_theta: float = 10000.0,
    eos_token_id: int = 0,
    bos_token_id: int = 0,
    pad_token_id: int = 0,
    **extra,
) -> Qwen2Config:
    """A Qwen2Config for a ~1M-parameter model. ``head_dim`` must be one vLLM's CPU attention supports."""
    if head_dim not in VLLM_CPU_HEAD_DIMS:
        raise ValueError(f"head_dim={head_dim} is not supported by vLLM's CPU attention; use one of "
                         f"{VLLM_CPU_HEAD_DIMS} (64 is the default)")
    if head_dim * num_heads != hidden_size:
        # vLLM's Qwen2 derives head_dim as hidden_size // num_heads and ignores config.head_dim
        raise ValueError(f"hidden_size={hidden_size} must equal num_heads * head_dim = {num_heads} * {head_dim}; "
                         "vLLM's Qwen2 ignores config.head_dim")
    num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    if num_heads % num_kv_heads:
        raise ValueError(f"num_heads={num_heads} must be a multiple of num_kv_heads={num_kv_heads}")
    if vocab_size <= max(eos_token_id, bos_token_id, pad_token_id):
        raise ValueError(f"vocab_size={vocab_size} is too small for the special token ids")
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": rope_theta},
        eos_token_id=eos_token_id,
        bos_token_id=bos_token_id,
        pad_token_id=pad_token_id,
        dtype="float32",
        **extra,
    )


def init_model(config: Qwen2Config, seed: int) -> Qwen2ForCausalLM:
    """A freshly initialised float32 model; the same (config, seed) gives bit-identical weights."""
    # Seed the global generator (that is what transformers' init uses) and put the caller's state back after.
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    finally:
        torch.random.set_rng_state(state)
    return model.to(torch.float32)


def make_tiny_checkpoint(texts: Sequence[str], out: str | Path, *, vocab_size: int, hidden_size: int, num_layers: int,
                         num_heads: int, intermediate_size: int, max_position_embeddings: int, seed: int) -> Any:
    """A new BPE tokenizer trained on `texts` and a freshly initialised tiny Qwen2, both saved to `out`.

    The one builder of from-scratch starts: `rlvr pretrain`'s base and the tiny recipes (model.init=tiny).
    Returns the trained tokenizer (also saved in `out`, so `out` loads as a Hugging Face checkpoint).
    """
    out = Path(out)
    tok = train_tokenizer(texts, vocab_size=vocab_size, out_dir=out)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    config = tiny_qwen2_config(len(tok), hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
                               head_dim=hidden_size // num_heads, intermediate_size=intermediate_size,
                               max_position_embeddings=max_position_embeddings, eos_token_id=tok.eos_token_id,
                               bos_token_id=tok.eos_token_id, pad_token_id=pad)
    init_model(config, seed).save_pretrained(out)
    return tok
