"""policy_objective's choices (ratio denominator, Dr. GRPO divisor) on a fixed-logit stand-in model,
against hand-worked numbers."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from rlvr.algorithms.config import AlgorithmConfig
from rlvr.algorithms.losses import aggregate
from rlvr.learner.batching import policy_tensors
from rlvr.learner.objectives import PolicyStep, agg_divisor, policy_objective
from rlvr.types import Sample


class UniformModel(torch.nn.Module):
    """Logits all zero over a vocabulary of 4: every token has log-prob log(1/4)."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(4))

    def forward(self, input_ids, position_ids=None, attention_mask=None, use_cache=False):
        return SimpleNamespace(logits=self.bias.expand(*input_ids.shape, 4))


def _step(algo, **kw):
    base = dict(algorithm=algo, eps_low=0.2, eps_high=0.28, global_tokens=2, global_seqs=2, agg_constant=99.0,
                temperature=1.0)
    base.update(kw)
    return PolicyStep(**base)


def test_engine_logprobs_as_the_ratio_denominator():
    # one response token, engine log-prob log(1/8), learner log(1/4): ratio 2, A = +1 -> clipped at 1.28,
    # token loss -1.28; with the learner's own (detached) log-probs as denominator the ratio is 1 -> loss -1.
    sample = Sample("p", [1], [2], "x", [math.log(1 / 8)], "stop", max_tokens=4)
    mb = policy_tensors([sample], 0, [1.0])
    engine = AlgorithmConfig(tis="none", old_logprobs="engine")
    loss, stats = policy_objective(UniformModel(), mb, _step(engine, global_tokens=1, global_seqs=1))
    assert float(loss.detach()) == pytest.approx(-1.28, rel=1e-5) and stats["clip_high"] == 1.0
    learner = AlgorithmConfig(tis="none", old_logprobs="learner")
    loss, stats = policy_objective(UniformModel(), mb, _step(learner, global_tokens=1, global_seqs=1))
    assert float(loss.detach()) == pytest.approx(-1.0, rel=1e-5) and stats["clip_high"] == 0.0


def test_dr_grpo_divides_each_sequence_by_the_budget_it_was_sampled_with():
    # two one-token responses, A = +1 each, ratio 1 -> token loss -1; budgets 4 and 8, 2 sequences:
    # (-1/4 + -1/8) / 2 = -0.1875 (a step constant of 99 would give -2 / (2 * 99)).
    samples = [Sample("p", [1], [2], "x", [math.log(0.25)], "stop", max_tokens=4),
               Sample("p", [1], [3], "y", [math.log(0.25)], "stop", max_tokens=8)]
    mb = policy_tensors(samples, 0, [1.0, 1.0])
    algo = AlgorithmConfig(tis="none", loss_agg="constant", loss_agg_constant=0.0)
    assert agg_divisor(mb, _step(algo)).tolist() == [[4.0], [8.0]]
    loss, _ = policy_objective(UniformModel(), mb, _step(algo))
    assert float(loss.detach()) == pytest.approx(-0.1875, rel=1e-5)
    fixed = AlgorithmConfig(tis="none", loss_agg="constant", loss_agg_constant=10.0)
    assert agg_divisor(mb, _step(fixed)) == 99.0  # a named constant wins (passed on as the step's fallback)


def test_aggregate_with_per_sequence_divisors():
    loss = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    # (1 + 2) / 3 + 3 / 6 = 1.5, over 2 sequences -> 0.75
    out = aggregate(loss, mask, "constant", global_seqs=2, constant=torch.tensor([[3.0], [6.0]]))
    assert float(out) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="positive per-sequence"):
        aggregate(loss, mask, "constant", global_seqs=2, constant=torch.tensor([[0.0], [6.0]]))


def _head_reference(logits, targets, temperature):
    from rlvr.algorithms.losses import entropy_from_logits
    from rlvr.learner.objectives import _gather_logprobs, _scaled

    z = _scaled(logits, temperature)
    return _gather_logprobs(z, targets), entropy_from_logits(z, chunk_size=3)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_the_fused_head_computes_what_the_separate_steps_do(temperature):
    """learner.compile's head (one function over the logits) against log p and entropy taken step by step,
    values and gradients, with bf16 logits as on a GPU."""
    from rlvr.learner.objectives import _head

    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(2, 5, 11, generator=gen) * 3).to(torch.bfloat16)
    targets = torch.randint(0, 11, (2, 5), generator=gen)
    weights = torch.randn(2, 5, generator=gen)
    for entropy_grad in (False, True):
        a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
        logp, ent = _head(a, targets, temperature, entropy_grad)
        ref_logp, ref_ent = _head_reference(b, targets, temperature)
        torch.testing.assert_close(logp, ref_logp)
        torch.testing.assert_close(ent, ref_ent)
        ((logp + ent) * weights).sum().backward() if entropy_grad else (logp * weights).sum().backward()
        ((ref_logp + ref_ent) * weights).sum().backward() if entropy_grad else (ref_logp * weights).sum().backward()
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.slow
def test_the_compiled_head_matches_the_eager_one():
    """What learner.compile runs (torch.compile of the head, dynamic shapes) gives the eager values and gradients."""
    from rlvr.learner import objectives

    compiled = torch.compile(objectives._head, dynamic=True)
    gen = torch.Generator().manual_seed(1)
    for shape in [(2, 5, 13), (3, 7, 13)]:  # a second shape: the dynamic graph, not a recompile per shape
        logits = torch.randn(*shape, generator=gen) * 2
        targets = torch.randint(0, shape[-1], shape[:-1], generator=gen)
        a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
        logp, ent = compiled(a, targets, 0.9, False)
        ref_logp, ref_ent = objectives._head(b, targets, 0.9, False)
        torch.testing.assert_close(logp, ref_logp)
        torch.testing.assert_close(ent, ref_ent)
        logp.sum().backward()
        ref_logp.sum().backward()
        torch.testing.assert_close(a.grad, b.grad)
