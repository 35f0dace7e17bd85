"""Model souping: exact weighted averages, a loadable checkpoint, and refusals on mismatched models."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from rlvr.recipes.merge import MergeError, merge_checkpoints, normalise_weights


def _set_weights(path, fill):
    """Overwrite every tensor of a checkpoint: fill(name, tensor) -> new tensor."""
    file = path / "model.safetensors"
    tensors = load_file(str(file))
    save_file({k: fill(k, v).contiguous() for k, v in tensors.items()}, str(file), metadata={"format": "pt"})
    return tensors


def _load(path):
    return load_file(str(path / "model.safetensors"))


def test_weighted_merge_is_exact(make_checkpoint, tmp_path):
    a, b = make_checkpoint("a", seed=0), make_checkpoint("b", seed=1)
    # Dyadic constants make the weighted sums exactly representable in float32.
    _set_weights(a, lambda k, v: torch.full_like(v, 1.0))
    _set_weights(b, lambda k, v: torch.full_like(v, 3.0))
    out = merge_checkpoints([a, b], tmp_path / "m", weights=[1, 3])
    merged = _load(out)
    assert merged and all(torch.equal(t, torch.full_like(t, 2.5)) for t in merged.values())  # 1/4*1 + 3/4*3


def test_uniform_merge_of_three_random_checkpoints_matches_float64_mean(make_checkpoint, tmp_path):
    paths = [make_checkpoint(f"r{i}", seed=10 + i) for i in range(3)]
    states = [_load(p) for p in paths]
    out = merge_checkpoints(paths, tmp_path / "m3")
    merged = _load(out)
    assert set(merged) == set(states[0])
    for name, tensor in merged.items():
        # The documented arithmetic: sum of w_i * theta_i in float64 (weights normalised), cast back.
        expected = states[0][name].double() * (1 / 3) + states[1][name].double() * (1 / 3) + states[2][name].double() * (1 / 3)
        assert tensor.dtype == states[0][name].dtype
        assert torch.equal(tensor, expected.to(tensor.dtype)), name
        mean = sum(s[name].double() for s in states) / 3
        assert torch.allclose(tensor.double(), mean, atol=1e-7)
    record = json.loads((out / "merge.json").read_text())
    assert record["weights"] == pytest.approx([1 / 3] * 3) and record["checkpoints"] == [str(p) for p in paths]


def test_merged_checkpoint_loads_with_its_tokenizer(make_checkpoint, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    a, b = make_checkpoint("la", seed=3), make_checkpoint("lb", seed=4)
    out = merge_checkpoints([a, b], tmp_path / "ml", weights=[0.5, 0.5])
    model = AutoModelForCausalLM.from_pretrained(str(out))
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.convert_tokens_to_ids("<think>") == AutoTokenizer.from_pretrained(str(a)).convert_tokens_to_ids("<think>")
    ids = torch.tensor([tok("7 + 5 = 12")["input_ids"]])
    assert model(input_ids=ids).logits.shape[-1] == 400
    emb = model.get_input_embeddings().weight
    expected = (_load(a)["model.embed_tokens.weight"].double() + _load(b)["model.embed_tokens.weight"].double()) / 2
    assert torch.equal(emb.detach(), expected.float())


def test_mismatched_checkpoints_are_refused(make_checkpoint, tmp_path):
    a = make_checkpoint("base64", seed=0)
    wider = make_checkpoint("wider", seed=0, intermediate_size=256)
    with pytest.raises(MergeError, match="intermediate_size"):
        merge_checkpoints([a, wider], tmp_path / "x")
    # Same config, one tensor reshaped on disk: the error names the tensor and both shapes.
    bad = make_checkpoint("bad", seed=0)
    _set_weights(bad, lambda k, v: v.reshape(-1) if k.endswith("input_layernorm.weight") else v)
    other = make_checkpoint("other", seed=1)
    _set_weights(other, lambda k, v: v[:32] if k.endswith("input_layernorm.weight") else v)
    with pytest.raises(MergeError, match=r"input_layernorm.weight' has shape \[32\]"):
        merge_checkpoints([bad, other], tmp_path / "y")


def test_weights_are_validated():
    assert normalise_weights(None, 4) == [0.25] * 4
    assert normalise_weights([2, 6], 2) == [0.25, 0.75]
    with pytest.raises(MergeError, match="3 weights for 2"):
        normalise_weights([1, 1, 1], 2)
    with pytest.raises(MergeError, match=">= 0"):
        normalise_weights([1, -1], 2)
    with pytest.raises(MergeError, match="all be 0"):
        normalise_weights([0, 0], 2)


def test_merge_command(make_checkpoint, tmp_path, capsys):
    from rlvr.recipes.commands import COMMANDS

    a, b = make_checkpoint("ca", seed=5), make_checkpoint("cb", seed=6)
    assert COMMANDS["merge"]([str(a), str(b), "--weights", "3", "1", "-o", str(tmp_path / "cm")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cm")
    assert json.loads((tmp_path / "cm" / "merge.json").read_text())["weights"] == [0.75, 0.25]
    assert COMMANDS["merge"]([str(a), "-o", str(tmp_path / "one")]) == 2
    assert "at least two" in capsys.readouterr().err
