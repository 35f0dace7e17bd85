"""YaRN: the settings reach the saved config, the transformers model, and vLLM's rotary embedding."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from rlvr.recipes.long_context import apply_yarn, format_table, perplexity, yarn_parameters


@pytest.fixture(scope="module")
def yarn_pair(make_checkpoint, tmp_path_factory):
    src = make_checkpoint("short", seed=2, max_position_embeddings=128)
    dst = apply_yarn(src, tmp_path_factory.mktemp("yarn") / "long", factor=4.0, original=128)
    return src, dst


def test_yarn_reaches_the_saved_config(yarn_pair):
    from transformers import AutoConfig

    src, dst = yarn_pair
    raw = json.loads((dst / "config.json").read_text())
    assert raw["max_position_embeddings"] == 512
    rope = raw["rope_parameters"]
    assert rope["rope_type"] == "yarn" and rope["factor"] == 4.0 and rope["original_max_position_embeddings"] == 128
    assert rope["rope_theta"] == 10000.0 and rope["beta_fast"] == 32.0 and rope["beta_slow"] == 1.0
    config = AutoConfig.from_pretrained(str(dst))
    assert config.rope_parameters["rope_type"] == "yarn" and config.max_position_embeddings == 512
    # the weights are the start checkpoint's, untouched
    a, b = load_file(str(src / "model.safetensors")), load_file(str(dst / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (dst / "tokenizer.json").is_file()


def test_the_model_runs_yarn_rotary_embeddings(yarn_pair):
    from transformers import AutoModelForCausalLM

    src, dst = yarn_pair
    plain = AutoModelForCausalLM.from_pretrained(str(src)).eval()
    yarn = AutoModelForCausalLM.from_pretrained(str(dst)).eval()
    rotary = yarn.model.rotary_emb
    assert rotary.rope_type == "yarn"
    assert rotary.attention_scaling == pytest.approx(0.1 * torch.log(torch.tensor(4.0)).item() + 1.0)
    # high frequencies stay (extrapolated), the lowest are interpolated by the factor
    plain_freq, yarn_freq = plain.model.rotary_emb.inv_freq, rotary.inv_freq
    assert torch.allclose(yarn_freq[0], plain_freq[0])
    assert torch.allclose(yarn_freq[-1], plain_freq[-1] / 4.0)
    ids = torch.randint(10, 300, (1, 400))  # beyond the original 128
    with torch.no_grad():
        assert torch.isfinite(yarn(input_ids=ids).logits).all()


def test_original_length_defaults_to_the_models_context(make_checkpoint):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(make_checkpoint("ctx", seed=0, max_position_embeddings=256)))
    params = yarn_parameters(config, factor=2.0)
    assert params["original_max_position_embeddings"] == 256
    with pytest.raises(ValueError, match="factor must be > 1"):
        yarn_parameters(config, factor=1.0)


def test_perplexity_by_length_and_its_table(yarn_pair):
    src, _ = yarn_pair
    docs = [list(range(5, 205)), list(range(6, 206))]
    result = perplexity(src, docs, [64, 200], original=128)
    assert set(result) == {64, 200}
    assert all(r["ppl"] > 1.0 for r in result.values())
    assert result[200]["ppl_beyond"] > 1.0
    table = format_table({"start": result}, 128)
    assert "ppl@64" in table and "ppl@200" in table and "(>limit)" in table


def test_the_long_context_recipe_validates_yarn_settings():
    from rlvr.recipes.config import RecipeError, compose_recipe

    cfg = compose_recipe("tiny_long_context")
    assert cfg.long_context.factor == 4.0 and cfg.long_context.original_max_position_embeddings == 128
    with pytest.raises(RecipeError, match="long_context.factor"):
        compose_recipe("tiny_long_context", ["long_context.factor=1.0"])
    with pytest.raises(RecipeError, match="data.seq_len"):
        compose_recipe("tiny_long_context", ["data.seq_len=128"])
    with pytest.raises(RecipeError, match="rope_type"):
        compose_recipe("tiny_long_context", ["long_context.rope_type=linear"])


@pytest.mark.slow
def test_vllm_reads_the_same_yarn_configuration(yarn_pair):
    from transformers import AutoModelForCausalLM
    from vllm.config import VllmConfig, set_current_vllm_config
    from vllm.model_executor.layers.rotary_embedding import get_rope
    from vllm.transformers_utils.config import get_config

    _, dst = yarn_pair
    hf = get_config(str(dst), trust_remote_code=False)
    assert hf.rope_parameters["rope_type"] == "yarn" and hf.rope_parameters["factor"] == 4.0
    assert hf.max_position_embeddings == 512
    with set_current_vllm_config(VllmConfig()):  # vLLM's layers are custom ops that need a config in scope
        rope = get_rope(64, max_position=hf.max_position_embeddings, rope_parameters=dict(hf.rope_parameters),
                        dtype=torch.float32)
    assert "yarn" in type(rope).__name__.lower()
    # vLLM's cos/sin cache equals transformers' YaRN embedding (with its attention scaling) position by position
    model = AutoModelForCausalLM.from_pretrained(str(dst)).eval()
    positions = torch.arange(0, 512, 37)
    x = torch.zeros(1, len(positions), 64)
    cos, sin = model.model.rotary_emb(x, positions[None])
    cache = rope.cos_sin_cache[positions]
    half = cache.shape[-1] // 2
    assert torch.allclose(cache[:, :half], cos[0, :, :half], atol=1e-5)
    assert torch.allclose(cache[:, half:], sin[0, :, :half], atol=1e-5)


def test_long_eval_texts_come_from_generators_or_files(tiny_tokenizer_dir, tmp_path):
    from transformers import AutoTokenizer

    from rlvr.recipes.long_context import long_eval_docs

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    generated = long_eval_docs(tok, "arithmetic:pretrain", 300, 3, seed=5)
    assert len(generated) == 3 and all(len(d) == 300 for d in generated)
    assert long_eval_docs(tok, "arithmetic:pretrain", 300, 3, seed=5) == generated
    data = tmp_path / "held.jsonl"
    data.write_text("".join(json.dumps({"text": f"Line {i}: the quiet park opened at nine."}) + "\n" for i in range(200)))
    from_file = long_eval_docs(tok, str(data), 120, 4, seed=0)
    assert len(from_file) == 4 and tok.decode(from_file[0]).startswith("Line 0: the quiet park")
    with pytest.raises(ValueError, match="gave only"):
        long_eval_docs(tok, str(data), 10_000, 4, seed=0)
