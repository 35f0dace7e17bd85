"""LoRA on the learner (rlvr/learner/lora.py): the merged weights the engines load, names, the adapter on disk."""
from __future__ import annotations

import pytest
import torch

from rlvr.config import QWEN2_LINEAR, LoraConfig
from rlvr.learner import lora


def _config():
    from transformers import Qwen2Config

    return Qwen2Config(vocab_size=96, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                       intermediate_size=128, head_dim=32, tie_word_embeddings=True, attn_implementation="sdpa")


def _base(seed=0):
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    return Qwen2ForCausalLM(_config()).float().eval()


def _trained_peft(rank=4, alpha=8.0, targets=None):
    """A peft model whose adapters are not the identity (B = 0 at init would make any merge pass)."""
    model = lora.wrap(_base(), LoraConfig(rank=rank, alpha=alpha, target_modules=list(targets or QWEN2_LINEAR)))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


IDS = torch.tensor([[3, 17, 42, 5, 77, 8, 19, 2], [9, 9, 31, 64, 1, 50, 4, 11]])


def test_merged_weights_give_the_peft_models_logits():
    peft_model = _trained_peft()
    before = {k: v.clone() for k, v in peft_model.state_dict().items()}
    merged = lora.merge(peft_model.state_dict(), lora.scalings(peft_model))
    plain = _base(seed=5)  # other weights, all replaced by the merged ones
    assert set(merged) == set(plain.state_dict())  # the base model's names, nothing else
    plain.load_state_dict(merged)
    with torch.no_grad():
        want = peft_model(input_ids=IDS).logits
        got = plain(input_ids=IDS).logits
        unmerged = _base()(input_ids=IDS).logits
    assert (got - want).abs().max() <= 1e-5
    assert (unmerged - want).abs().max() > 1e-2  # the adapters matter, so the check above means something
    # out of place: the live model is untouched
    assert all(torch.equal(v, before[k]) for k, v in peft_model.state_dict().items())


def test_scale_is_alpha_over_rank_per_layer():
    peft_model = _trained_peft(rank=4, alpha=8.0)
    scales = lora.scalings(peft_model)
    assert len(scales) == 2 * len(QWEN2_LINEAR) and set(scales.values()) == {2.0}
    assert "model.layers.0.self_attn.q_proj" in scales


def test_only_the_adapters_train():
    cfg = _config()
    model = lora.wrap(_base(), LoraConfig(rank=8, target_modules=list(QWEN2_LINEAR)))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    kv = cfg.num_key_value_heads * cfg.head_dim
    shapes = {"q_proj": (64, 64), "k_proj": (64, kv), "v_proj": (64, kv), "o_proj": (64, 64),
              "gate_proj": (64, 128), "up_proj": (64, 128), "down_proj": (128, 64)}  # (d_in, d_out)
    assert lora.trainable_count(model) == 2 * sum(8 * (i + o) for i, o in shapes.values())


def test_target_modules_subset_and_all_linear():
    attn = lora.wrap(_base(), LoraConfig(rank=2, target_modules=["q_proj", "v_proj"]))
    assert set(lora.scalings(attn)) == {f"model.layers.{i}.self_attn.{m}" for i in (0, 1) for m in ("q_proj", "v_proj")}
    every = lora.wrap(_base(), LoraConfig(rank=2, target_modules=["all-linear"]))
    assert len(lora.scalings(every)) == 2 * len(QWEN2_LINEAR)  # the head is not adapted


def test_saved_adapter_loads_in_peft_with_the_same_logits(tmp_path):
    from peft import PeftModel

    peft_model = _trained_peft(rank=4, alpha=16.0)
    path = lora.save_adapter(lora.adapter_payload(peft_model.state_dict(), peft_model), str(tmp_path / "adapter"))
    loaded = PeftModel.from_pretrained(_base(), path).eval()
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=IDS).logits, peft_model(input_ids=IDS).logits, atol=1e-6)
    again = lora.wrap(_base(), LoraConfig(rank=4, init_adapter=path))  # model.lora.init_adapter: trainable
    assert lora.trainable_count(again) == lora.trainable_count(peft_model)
    with torch.no_grad():
        assert torch.allclose(again.eval()(input_ids=IDS).logits, peft_model(input_ids=IDS).logits, atol=1e-6)


def test_bad_adapters_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="init_adapter"):
        lora.wrap(_base(), LoraConfig(rank=4, init_adapter=str(tmp_path)))
    sd = dict(_trained_peft().state_dict())
    sd["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector.default.weight"] = torch.ones(64)
    with pytest.raises(ValueError, match="lora_magnitude_vector"):
        lora.merge(sd, {})
    with pytest.raises(ValueError, match="model.lora.rank"):
        LoraConfig(rank=-1).validate()
    with pytest.raises(ValueError, match="model.lora.sync"):
        LoraConfig(rank=4, sync="both").validate()
