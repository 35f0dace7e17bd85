"""The tiny Qwen2 factory: vLLM-compatible head size, sizes, seeding."""
from __future__ import annotations

import pytest
import torch

from rlvr.models.tiny import init_model, tiny_qwen2_config


def test_defaults_have_head_dim_64_and_expected_shapes():
    config = tiny_qwen2_config(512)
    assert config.head_dim == 64 and config.num_attention_heads == 2 and config.num_key_value_heads == 2
    assert config.tie_word_embeddings and config.model_type == "qwen2"
    model = init_model(config, seed=0)
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.weight.shape == (2 * 64, 128) and attn.k_proj.weight.shape == (2 * 64, 128)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied
    assert model.dtype == torch.float32
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 2e6


def test_head_dim_vllm_cpu_cannot_serve_is_refused():
    with pytest.raises(ValueError, match="head_dim=16"):
        tiny_qwen2_config(512, head_dim=16)
    with pytest.raises(ValueError, match="multiple of num_kv_heads"):
        tiny_qwen2_config(512, hidden_size=192, num_heads=3, num_kv_heads=2)
    with pytest.raises(ValueError, match="num_heads \\* head_dim"):
        tiny_qwen2_config(512, hidden_size=96)  # vLLM would compute head_dim 48 and fail to load


def test_init_is_seeded_and_leaves_global_rng_alone():
    config = tiny_qwen2_config(300, num_layers=1)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = init_model(config, 1), init_model(config, 1), init_model(config, 2)
    assert torch.rand(1) == expected_next  # the caller's random stream is untouched
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)


def test_save_and_reload_round_trip(tmp_path):
    model = init_model(tiny_qwen2_config(300, num_layers=1), seed=0)
    model.save_pretrained(tmp_path)
    from transformers import AutoModelForCausalLM

    again = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, again(ids).logits, atol=1e-6)
    assert again.config.head_dim == 64


def test_make_tiny_checkpoint_is_the_one_from_scratch_builder(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr.data.builtin import load_builtin
    from rlvr.models.tiny import make_tiny_checkpoint

    texts = load_builtin("arithmetic").pretrain_corpus(300, 0)
    arch = dict(vocab_size=400, hidden_size=64, num_layers=1, num_heads=1, intermediate_size=64,
                max_position_embeddings=128)
    tok = make_tiny_checkpoint(texts, tmp_path / "a", seed=3, **arch)
    make_tiny_checkpoint(texts, tmp_path / "b", seed=3, **arch)
    make_tiny_checkpoint(texts, tmp_path / "c", seed=4, **arch)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "a")
    assert model.config.vocab_size == len(tok) and model.config.head_dim == 64 and model.config.num_hidden_layers == 1
    assert model.config.eos_token_id == tok.eos_token_id and model.config.max_position_embeddings == 128
    assert AutoTokenizer.from_pretrained(tmp_path / "a")("1 + 2")["input_ids"] == tok("1 + 2")["input_ids"]
    a, b, c = ((tmp_path / d / "model.safetensors").read_bytes() for d in "abc")
    assert a == b and a != c  # the same texts, architecture and seed give the same checkpoint
