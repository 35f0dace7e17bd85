"""Learner packing (learner.pack): packed rows give the padded batch's loss and gradients."""
from __future__ import annotations

import pytest
import torch

from rlvr.algorithms.config import AlgorithmConfig
from rlvr.learner.batching import count_loss_tokens, pack_policy_batch, policy_shards, policy_tensors
from rlvr.learner.objectives import PolicyStep, policy_objective, token_logprobs
from rlvr.types import Sample


def _model():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      intermediate_size=128, head_dim=32, tie_word_embeddings=True, attn_implementation="sdpa")
    return Qwen2ForCausalLM(cfg).float()


def _samples():
    g = torch.Generator().manual_seed(1)
    out = []
    for plen, rlen in ((3, 9), (5, 2), (2, 4), (4, 1), (6, 6), (2, 3)):
        ids = torch.randint(1, 64, (plen + rlen,), generator=g).tolist()
        logp = (-torch.rand(rlen, generator=g) * 3).tolist()
        out.append(Sample("p", ids[:plen], ids[plen:], "", logp, "stop", max_tokens=12))
    return out


def test_pack_layout_restarts_positions_and_maps_back():
    samples = _samples()
    mb = policy_tensors(samples, 0, [0.0] * len(samples))
    packed = pack_policy_batch(mb, pad_id=0)
    width = mb["input_ids"].shape[1]  # 12: the longest sequence
    assert packed["input_ids"].shape[1] == width and packed["input_ids"].shape[0] < len(samples)
    # every sequence's tokens appear, in order, at the places unpack_index names
    flat_targets = packed["input_ids"][:, 1:].reshape(-1)
    for i, s in enumerate(samples):
        ids = list(s.prompt_ids) + list(s.response_ids)
        assert flat_targets[packed["unpack_index"][i, : len(ids) - 1]].tolist() == ids[1:]
    # positions: runs 0..n-1, one per sequence plus the tail padding
    for row in packed["position_ids"]:
        starts = [j for j, p in enumerate(row.tolist()) if p == 0]
        assert starts[0] == 0 and all(row[j] == row[j - 1] + 1 for j in range(1, len(row)) if j not in starts)
    assert packed["loss_mask"].equal(mb["loss_mask"]) and packed["num_tokens"] == mb["num_tokens"]


@pytest.mark.parametrize("agg", ["token", "seq_mean", "constant"])
def test_packed_and_padded_give_the_same_loss_and_gradients(agg):
    samples = _samples()
    advantages = [1.0, -0.5, 0.25, -1.0, 0.75, -0.25]
    algo = AlgorithmConfig(loss_agg=agg, loss_agg_constant=12.0 if agg == "constant" else 0.0, entropy_coef=0.01,
                           kl_coef=0.0)
    results = []
    for pack in (False, True):
        model = _model()
        shards = policy_shards(samples, advantages, 1, 6, pad_id=0, pack=pack)
        tokens, seqs = count_loss_tokens(shards)
        step = PolicyStep(algorithm=algo, eps_low=0.2, eps_high=0.28, global_tokens=tokens, global_seqs=seqs,
                          agg_constant=12.0, temperature=0.7)
        total = 0.0
        for mb in shards[0]:
            loss, _ = policy_objective(model, mb, step)
            loss.backward()
            total += float(loss.detach())
        logps = [token_logprobs(model, mb, 0.7).detach() for mb in shards[0]]
        results.append((total, {n: p.grad.clone() for n, p in model.named_parameters()}, logps, shards[0]))
    (loss_a, grads_a, lp_a, mbs_a), (loss_b, grads_b, lp_b, mbs_b) = results
    assert any(mb["input_ids"].shape[0] < mb["loss_mask"].shape[0] for mb in mbs_b)  # something was packed
    assert loss_b == pytest.approx(loss_a, abs=1e-5) and loss_a != 0.0
    for name, g in grads_a.items():
        assert torch.allclose(grads_b[name], g, atol=1e-5, rtol=1e-4), name
    for a, b, mb in zip(lp_a, lp_b, mbs_a):  # log-probs (probe, old and reference log-probs) in the padded layout
        assert torch.allclose(a[mb["loss_mask"]], b[mb["loss_mask"]], atol=1e-5)


def test_a_micro_batch_whose_sequences_cannot_share_a_row_stays_padded():
    """learner.pack is on by default: where no two sequences fit in one row (the default task's near-equal
    lengths) the padded micro-batch is used as it is, so packing changes nothing there."""
    g = torch.Generator().manual_seed(1)
    samples = [Sample("p", torch.randint(1, 64, (40,), generator=g).tolist(),
                      torch.randint(1, 64, (rlen,), generator=g).tolist(), "", [-1.0] * rlen, "stop")
               for rlen in (32, 20, 9, 1)]  # 41..72 tokens: any two exceed the longest
    mb = policy_tensors(samples, 0, [1.0, -1.0, 0.5, 0.0])
    assert pack_policy_batch(mb, pad_id=0) is mb
    shards = policy_shards(samples, [1.0, -1.0, 0.5, 0.0], 1, 4, pad_id=0, pack=True)
    assert "unpack_index" not in shards[0][0] and shards[0][0]["input_ids"].equal(mb["input_ids"])


def test_packing_is_on_by_default():
    from rlvr.config import LearnerConfig

    assert LearnerConfig().pack
