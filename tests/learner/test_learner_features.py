"""The FSDP2 learner's LoRA, activation checkpointing and reference paths on real workers (gloo on the CPU)."""
from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.slow

WRAPPER = "_checkpoint_wrapped_module."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=96, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      intermediate_size=128, head_dim=32, tie_word_embeddings=True)
    path = tmp_path_factory.mktemp("tiny")
    Qwen2ForCausalLM(cfg).save_pretrained(path)
    return str(path)


def _batch(num_workers=1):
    from rlvr.algorithms.config import AlgorithmConfig
    from rlvr.learner.batching import count_loss_tokens, policy_shards
    from rlvr.learner.objectives import PolicyStep
    from rlvr.types import Sample

    g = torch.Generator().manual_seed(3)
    samples = []
    for i, (plen, rlen) in enumerate(((3, 6), (4, 2), (2, 5), (5, 3))):
        ids = torch.randint(1, 96, (plen + rlen,), generator=g).tolist()
        samples.append(Sample(str(i), ids[:plen], ids[plen:], "", [-4.6] * rlen, "stop", max_tokens=8))
    shards = policy_shards(samples, [1.0, -1.0, 0.5, -0.5], num_workers, 4, pad_id=0)
    tokens, seqs = count_loss_tokens(shards)
    algo = AlgorithmConfig(kl_coef=0.05)  # the KL term on: reference log-probs are taken in every step
    return shards, PolicyStep(algorithm=algo, eps_low=0.2, eps_high=0.28, global_tokens=tokens, global_seqs=seqs,
                              agg_constant=8.0, temperature=1.0)


def _worker(path, lora_rank=0, ac=False, load_reference=False, lr=1e-2):
    from rlvr.config import LearnerConfig, LoraConfig
    from rlvr.learner.worker import LearnerWorker, free_port

    cfg = LearnerConfig(num_workers=1, lr=lr, warmup_steps=0, grad_clip=0.0, activation_checkpointing=ac)
    w = LearnerWorker(0, 1, cfg, seed=0, total_steps=2, load_reference=load_reference, lora=LoraConfig(rank=lora_rank))
    w.setup("127.0.0.1", free_port(), path)
    return w


def _loss_and_grads(path, lora_rank, ac):
    from rlvr.learner.objectives import policy_objective

    shards, step = _batch()
    w = _worker(path, lora_rank, ac, load_reference=True)
    try:
        w.model.train()
        mb = w._to_device(shards[0][0])
        mb["ref_logp"] = w._reference_logprobs(mb, 1.0)
        loss, _ = policy_objective(w.model, mb, step)
        loss.backward()
        grads = {n.replace(WRAPPER, ""): p.grad.full_tensor().clone()
                 for n, p in w.model.named_parameters() if p.grad is not None}
        names = sorted(w.full_state_dict())
    finally:
        w.shutdown()
    return float(loss.detach()), grads, names


@pytest.mark.parametrize("lora_rank", [0, 4])
def test_activation_checkpointing_gives_the_same_loss_and_gradients(tiny, lora_rank):
    loss, grads, names = _loss_and_grads(tiny, lora_rank, ac=False)
    loss_ac, grads_ac, names_ac = _loss_and_grads(tiny, lora_rank, ac=True)
    assert loss_ac == pytest.approx(loss, abs=1e-6) and loss != 0.0
    assert grads_ac.keys() == grads.keys() and grads
    for name, g in grads.items():
        assert torch.allclose(grads_ac[name], g, atol=1e-6, rtol=1e-5), name
    assert names_ac == names  # the engines get the same names with the wrappers on
    if lora_rank:
        assert all("lora_" in n for n in grads)


def test_lora_reference_is_the_base_with_the_adapter_off(tiny):
    from transformers import AutoModelForCausalLM

    from rlvr.learner.objectives import token_logprobs

    shards, step = _batch()
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32, attn_implementation="sdpa").eval()
    mb = shards[0][0]
    with torch.no_grad():
        want = token_logprobs(base, mb)
    w = _worker(tiny, lora_rank=4, load_reference=True, lr=5e-2)
    try:
        assert w.ref_model is None  # no second model: the adapter is switched off instead
        w.train_step(shards[0], __import__("rlvr.learner.objectives", fromlist=["x"]).policy_objective, step)
        w.train_step(shards[0], __import__("rlvr.learner.objectives", fromlist=["x"]).policy_objective, step)
        mask = mb["loss_mask"]
        ref = w._reference_logprobs(w._to_device(mb), 1.0)
        policy = w.logprobs(shards[0])[0]
    finally:
        w.shutdown()
    assert torch.allclose(ref[mask], want[mask], atol=1e-6)
    assert (policy[mask] - want[mask]).abs().max() > 1e-3  # the adapters trained, the reference did not move


@pytest.mark.xdist_group("ray")
def test_lora_base_stays_frozen_under_fsdp2_with_two_workers(tiny, tmp_path):
    import ray

    from rlvr.config import LearnerConfig, LoraConfig
    from rlvr.learner import lora
    from rlvr.learner.group import LearnerGroup
    from rlvr.learner.objectives import policy_objective
    from rlvr.placement import init_ray

    def raw(worker):  # runs inside each actor (a collective): the gathered, unmerged peft state dict
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(worker.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    init_ray(needed_cpus=3)
    group = LearnerGroup(tiny, LearnerConfig(num_workers=2, lr=5e-2, warmup_steps=0, grad_clip=0.0), seed=0,
                         total_steps=2, load_reference=True, lora=LoraConfig(rank=4, alpha=8.0))
    try:
        before = ray.get([w.__ray_call__.remote(raw) for w in group.workers])[0]
        shards, step = _batch(num_workers=2)
        for _ in range(2):
            group.train_step(shards, policy_objective, step)
        after = ray.get([w.__ray_call__.remote(raw) for w in group.workers])[0]
        merged = ray.get(group.state_dict_ref())
        saved = group.save(str(tmp_path / "ckpt"))
    finally:
        group.shutdown()
        ray.shutdown()
    frozen = [k for k in before if "lora_" not in k]
    adapters = [k for k in before if "lora_" in k]
    assert frozen and adapters
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not torch.equal(before[k], after[k]) for k in adapters if ".lora_B." in k)  # B starts at 0
    scales = {k.replace("base_model.model.", "").rsplit(".lora_A", 1)[0]: 2.0 for k in adapters if ".lora_A." in k}
    want = lora.merge(after, scales)
    assert all(torch.equal(merged[k], want[k].float()) for k in want)
    assert not torch.equal(merged["model.layers.0.self_attn.q_proj.weight"],
                           before["base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight"])
    # the end of a run: a merged HF checkpoint and the adapter beside it, which peft loads onto the base
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 9, 13, 2, 40, 41]])
    with torch.no_grad():
        a = AutoModelForCausalLM.from_pretrained(saved).eval()(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny)
        b = PeftModel.from_pretrained(base, f"{saved}/adapter").eval()(input_ids=ids).logits
    assert (a - b).abs().max() <= 1e-5
