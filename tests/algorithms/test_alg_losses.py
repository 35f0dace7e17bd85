import math

import pytest
import torch

from rlvr.algorithms.config import AlgorithmConfig
from rlvr.algorithms.losses import (
    aggregate,
    clipped_surrogate,
    entropy_from_logits,
    kl_penalty,
    policy_loss,
    tis_weights,
)

LOG = math.log


def _logp_for_ratios(ratios):
    old = torch.zeros(1, len(ratios))
    new = torch.tensor([[LOG(r) for r in ratios]], requires_grad=True)
    return new, old


def test_clip_positive_advantage():
    # A = +1, eps 0.2 / 0.28. ratio 1.5 -> max(-1.5, -1.28) = -1.28 (clipped high, no gradient);
    # ratio 0.5 -> max(-0.5, -0.8) = -0.5 (unclipped: lowering a good action's prob is not clipped); ratio 1 -> -1.
    new, old = _logp_for_ratios([1.5, 0.5, 1.0])
    loss, low, high = clipped_surrogate(new, old, torch.tensor([1.0]), 0.2, 0.28)
    torch.testing.assert_close(loss, torch.tensor([[-1.28, -0.5, -1.0]]))
    assert high.tolist() == [[True, False, False]] and not low.any()
    loss.sum().backward()
    # d(-A r)/dlogp = -A r: 0 for the clipped token, -0.5 and -1 for the others.
    torch.testing.assert_close(new.grad, torch.tensor([[0.0, -0.5, -1.0]]))


def test_clip_negative_advantage_and_dual_clip():
    # A = -2. ratio 0.5 -> max(1.0, 1.6) = 1.6 (clipped low); ratio 1.5 -> max(3.0, 2.56) = 3.0;
    # ratio 4 -> 8 without dual clip, min(8, 2 * 3) = 6 with c = 3; ratio 2 -> 4 either way.
    new, old = _logp_for_ratios([0.5, 1.5, 4.0, 2.0])
    adv = torch.tensor([-2.0])
    loss, low, high = clipped_surrogate(new, old, adv, 0.2, 0.28)
    torch.testing.assert_close(loss, torch.tensor([[1.6, 3.0, 8.0, 4.0]]))
    assert low.tolist() == [[True, False, False, False]] and not high.any()
    dual, _, _ = clipped_surrogate(new, old, adv, 0.2, 0.28, dual_clip_c=3.0)
    torch.testing.assert_close(dual, torch.tensor([[1.6, 3.0, 6.0, 4.0]]))
    dual.sum().backward()
    torch.testing.assert_close(new.grad, torch.tensor([[0.0, 3.0, 0.0, 4.0]]))


def test_per_token_advantages_broadcast_equivalence():
    new, old = _logp_for_ratios([1.1, 0.9])
    a = clipped_surrogate(new, old, torch.tensor([0.5]), 0.2, 0.2)[0]
    b = clipped_surrogate(new, old, torch.tensor([[0.5, 0.5]]), 0.2, 0.2)[0]
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="advantages"):
        clipped_surrogate(new, old, torch.tensor([0.5, 0.5, 0.5]), 0.2, 0.2)
    with pytest.raises(ValueError, match="dual_clip_c"):
        clipped_surrogate(new, old, torch.tensor([0.5]), 0.2, 0.2, dual_clip_c=1.0)


def test_tis_token_cap_and_no_gradient():
    old = torch.tensor([[LOG(3.0), LOG(0.5), 0.0, 7.0]], requires_grad=True)
    rollout = torch.zeros(1, 4)
    mask = torch.tensor([[True, True, True, False]])
    w, capped = tis_weights(old, rollout, mask, cap=2.0)
    # exp(log 3) = 3 -> capped at 2; exp(log 0.5) = 0.5 (no lower bound); 1; padding -> 0.
    torch.testing.assert_close(w, torch.tensor([[2.0, 0.5, 1.0, 0.0]]))
    assert not w.requires_grad
    assert capped.tolist() == [[True, False, False, False]]


def test_tis_sequence_level():
    # row 0: log-ratios log 1.2 + log 1.5 = log 1.8 -> 1.8 on both tokens; row 1: log 2 + log 3 = log 6 -> cap 2.
    old = torch.tensor([[LOG(1.2), LOG(1.5), 5.0], [LOG(2.0), LOG(3.0), 0.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    w, _ = tis_weights(old, torch.zeros(2, 3), mask, cap=2.0, level="sequence")
    torch.testing.assert_close(w, torch.tensor([[1.8, 1.8, 0.0], [2.0, 2.0, 2.0]]))
    # Packed: both responses in one row, told apart by segment ids.
    packed, _ = tis_weights(torch.tensor([[LOG(1.2), LOG(1.5), LOG(2.0), LOG(3.0)]]), torch.zeros(1, 4),
                         torch.ones(1, 4, dtype=torch.bool), cap=2.0, level="sequence",
                         segment_ids=torch.tensor([[0, 0, 1, 1]]))
    torch.testing.assert_close(packed, torch.tensor([[1.8, 1.8, 2.0, 2.0]]))


def test_kl_estimators():
    logp, ref = torch.tensor([LOG(0.5), LOG(0.25)]), torch.tensor([LOG(0.25), LOG(0.5)])
    # d = +log 2 and -log 2.
    torch.testing.assert_close(kl_penalty(logp, ref, "k1"), torch.tensor([LOG(2), -LOG(2)]))
    torch.testing.assert_close(kl_penalty(logp, ref, "k2"), torch.tensor([0.5 * LOG(2) ** 2] * 2))
    # k3 = exp(-d) - 1 + d: 0.5 - 1 + 0.693147 = 0.193147; 2 - 1 - 0.693147 = 0.306853.
    torch.testing.assert_close(kl_penalty(logp, ref, "k3"), torch.tensor([0.193147, 0.306853]))
    with pytest.raises(ValueError, match="kl_estimator"):
        kl_penalty(logp, ref, "k4")


def test_entropy_uniform_masked_and_stable():
    torch.testing.assert_close(entropy_from_logits(torch.zeros(2, 3, 7)), torch.full((2, 3), LOG(7)))
    # A vocabulary entry at -inf has probability 0: two equal survivors -> log 2, no nan.
    torch.testing.assert_close(entropy_from_logits(torch.tensor([[0.0, 0.0, -math.inf]])), torch.tensor([LOG(2)]))
    z = torch.randn(4, 5, 11, generator=torch.Generator().manual_seed(0))
    p = torch.softmax(z, -1)
    reference = -(p * p.log()).sum(-1)
    torch.testing.assert_close(entropy_from_logits(z), reference)
    torch.testing.assert_close(entropy_from_logits(z + 1e4), reference, atol=1e-3, rtol=0)
    torch.testing.assert_close(entropy_from_logits(z, chunk_size=3), reference)


# Two workers x two accumulation micro-batches with unequal token counts; one row per response.
# per-token losses (pad = 99, must be ignored):
#   w0 mb0: a = [1, 2, 3], b = [4]      w0 mb1: c = [2, 2]
#   w1 mb0: d = [6]                     w1 mb1: e = [1, 1], f = [3]
# tokens 10, sum 25, 6 responses with means a 2, b 4, c 2, d 6, e 1, f 3 (sum 18).
P = 99.0
MICRO = [
    (torch.tensor([[1.0, 2.0, 3.0], [4.0, P, P]]), torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)),
    (torch.tensor([[2.0, 2.0, P]]), torch.tensor([[1, 1, 0]], dtype=torch.bool)),
    (torch.tensor([[6.0, P]]), torch.tensor([[1, 0]], dtype=torch.bool)),
    (torch.tensor([[1.0, 1.0], [3.0, P]]), torch.tensor([[1, 1], [1, 0]], dtype=torch.bool)),
]


@pytest.mark.parametrize("mode,expected", [("token", 25 / 10), ("seq_mean", 18 / 6), ("constant", 25 / (6 * 4))])
def test_aggregation_across_workers_and_micro_batches(mode, expected):
    total = sum(aggregate(loss, mask, mode, global_tokens=10, global_seqs=6, constant=4) for loss, mask in MICRO)
    assert float(total) == pytest.approx(expected, abs=1e-6)


def test_mean_of_micro_batch_means_is_not_the_token_mean():
    # The Olmo 3-era pitfall: averaging per-pack means gives (2.5 + 2 + 6 + 5/3) / 4 = 3.0417, not 2.5.
    naive = sum(float(aggregate(l, m, "token", global_tokens=int(m.sum()))) for l, m in MICRO) / len(MICRO)
    assert naive == pytest.approx(3.041667, abs=1e-5)
    assert naive != pytest.approx(2.5)


def test_seq_mean_with_packed_rows():
    # a and b packed in one row: (2 + 4) / 6 responses.
    loss = torch.tensor([[1.0, 2.0, 3.0, 4.0, P]])
    mask = torch.tensor([[1, 1, 1, 1, 0]], dtype=torch.bool)
    out = aggregate(loss, mask, "seq_mean", global_seqs=6, segment_ids=torch.tensor([[0, 0, 0, 1, 1]]))
    assert float(out) == pytest.approx(1.0)


def test_aggregate_errors():
    loss, mask = MICRO[0]
    with pytest.raises(ValueError, match="global_tokens"):
        aggregate(loss, mask, "token")
    with pytest.raises(ValueError, match="constant"):
        aggregate(loss, mask, "constant", global_seqs=2)
    with pytest.raises(ValueError, match="loss_agg"):
        aggregate(loss, mask, "mean", global_seqs=2)


def test_policy_loss_gradient_is_minus_advantage_over_global_tokens():
    # ratio 1 and w 1: loss = sum(-A) / N, so dloss/dlogp_t = -A_i / N on every response token.
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -0.7, -9.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    adv = torch.tensor([0.625, -0.375])
    cfg = AlgorithmConfig()  # OlmoRL defaults: token TIS cap 2, token aggregation
    loss, stats = policy_loss(logp, logp.detach(), logp.detach(), adv, mask, cfg, eps_low=0.2, eps_high=0.272,
                              global_tokens=8, global_seqs=4)
    loss.backward()
    expected = torch.tensor([[-0.625 / 8] * 3, [0.375 / 8, 0.375 / 8, 0.0]])
    torch.testing.assert_close(logp.grad, expected)
    assert loss.item() == pytest.approx((-0.625 * 3 + 0.375 * 2) / 8)
    assert stats["tokens"] == 5 and stats["seqs"] == 2 and stats["tis_weight"] == pytest.approx(5.0)
    assert stats["clip_low"] == stats["clip_high"] == stats["tis_clipped"] == 0
    assert stats["approx_kl_old"] == pytest.approx(0.0)


def test_policy_loss_tis_clip_kl_and_stats():
    # One response, A = +1, 4 tokens, eps 0.2/0.28:
    #   ratio  [1.5, 1.0, 1.0, 0.5];  old - rollout = [0, log 3, log 0.5, 0] -> w = [1, 2 (cap), 0.5, 1]
    #   surrogate [-1.28, -1, -1, -0.5] * w = [-1.28, -2, -0.5, -0.5] -> sum -4.28
    #   KL k1 to ref with d = logp - ref = [0.1, 0.1, 0.1, 0.1], beta 0.5 -> +0.2 in total
    old = torch.tensor([[0.0, -1.0, -1.0, -1.0]])
    logp = (old + torch.tensor([[LOG(1.5), 0.0, 0.0, LOG(0.5)]])).requires_grad_(True)
    rollout = old - torch.tensor([[0.0, LOG(3.0), LOG(0.5), 0.0]])
    ref = logp.detach() - 0.1
    mask = torch.ones(1, 4, dtype=torch.bool)
    cfg = AlgorithmConfig(kl_coef=0.5, kl_estimator="k1")
    loss, stats = policy_loss(logp, old, rollout, torch.tensor([1.0]), mask, cfg, eps_low=0.2, eps_high=0.28,
                              global_tokens=4, global_seqs=1, ref_logp=ref, entropy=torch.full((1, 4), 0.25))
    assert loss.item() == pytest.approx((-4.28 + 0.2) / 4, abs=1e-5)
    assert stats["clip_high"] == 1 and stats["clip_low"] == 0
    assert stats["tis_weight"] == pytest.approx(4.5) and stats["tis_clipped"] == 1
    assert stats["kl_ref"] == pytest.approx(0.4, abs=1e-6) and stats["entropy"] == pytest.approx(1.0)
    assert stats["pg_loss"] == pytest.approx(-4.28, abs=1e-5) and stats["loss"] == pytest.approx(-4.08, abs=1e-5)
    # k3(old vs new): ratio 1.5 -> 1/1.5 - 1 + log 1.5; ratio 0.5 -> 2 - 1 + log 0.5.
    expected_kl = (1 / 1.5 - 1 + LOG(1.5)) + (2 - 1 + LOG(0.5))
    assert stats["approx_kl_old"] == pytest.approx(expected_kl, abs=1e-5)


def test_policy_loss_dual_clip_entropy_bonus_and_requirements():
    old = torch.zeros(1, 2)
    logp = torch.tensor([[LOG(4.0), 0.0]], requires_grad=True)
    ent = torch.tensor([[1.0, 3.0]], requires_grad=True)
    cfg = AlgorithmConfig(tis="none", dual_clip_c=3.0, entropy_coef=0.1, loss_agg="constant")
    # A = -2: token 0 ratio 4 -> dual-clipped to 6; token 1 ratio 1 -> 2. Entropy bonus -0.1 * (1 + 3).
    # constant aggregation: / (global_seqs 2 * constant 5).
    loss, stats = policy_loss(logp, old, None, torch.tensor([-2.0]), torch.ones(1, 2, dtype=torch.bool), cfg,
                              eps_low=0.2, eps_high=0.28, global_seqs=2, agg_constant=5, entropy=ent)
    assert loss.item() == pytest.approx((6 + 2 - 0.4) / 10)
    assert stats["clip_dual"] == 1
    loss.backward()
    torch.testing.assert_close(ent.grad, torch.tensor([[-0.01, -0.01]]))
    with pytest.raises(ValueError, match="rollout_logp"):
        policy_loss(logp, old, None, torch.tensor([1.0]), torch.ones(1, 2, dtype=torch.bool), AlgorithmConfig(),
                    eps_low=0.2, eps_high=0.2, global_tokens=2)
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, old, old, torch.tensor([1.0]), torch.ones(1, 2, dtype=torch.bool),
                    AlgorithmConfig(kl_coef=0.1), eps_low=0.2, eps_high=0.2, global_tokens=2)


def test_policy_loss_padding_garbage_does_not_leak():
    logp = torch.tensor([[-1.0, float("nan")]], requires_grad=True)
    old = torch.tensor([[-1.0, float("inf")]])
    mask = torch.tensor([[True, False]])
    loss, stats = policy_loss(logp, old, old, torch.tensor([2.0]), mask, AlgorithmConfig(), eps_low=0.2,
                              eps_high=0.2, global_tokens=1)
    loss.backward()
    assert loss.item() == pytest.approx(-2.0)
    assert torch.isfinite(logp.grad).all() and logp.grad[0, 1] == 0
    assert all(math.isfinite(v) for v in stats.values())
