import torch

from rlvr.learner.batching import balance, count_loss_tokens, policy_shards, policy_tensors
from rlvr.learner.worker import lr_factor
from rlvr.types import Sample


def _sample(prompt, response, truncated=False):
    return Sample(prompt_id="p", prompt_ids=prompt, response_ids=response, response_text="",
                  rollout_logprobs=[-0.5] * len(response), finish_reason="length" if truncated else "stop")


def test_policy_tensors_align_response_targets():
    s = _sample([5, 6, 7], [8, 9])
    mb = policy_tensors([s, _sample([1], [2, 3, 4])], pad_id=0, advantages=[1.0, -0.5])
    # position j predicts token j+1: response tokens 8, 9 sit at indices 3, 4 -> targets 2, 3
    assert mb["loss_mask"][0].tolist() == [0, 0, 1, 1]
    assert mb["input_ids"][0].tolist() == [5, 6, 7, 8, 9]
    assert mb["rollout_logp"][0, 2:4].tolist() == [-0.5, -0.5]
    assert mb["loss_mask"][1].tolist() == [1, 1, 1, 0]
    assert mb["attention_mask"][1].tolist() == [1, 1, 1, 1, 0]
    assert mb["num_tokens"] == 9
    assert mb["advantages"].tolist() == [1.0, -0.5]


def test_shards_have_equal_counts_and_keep_every_token():
    samples = [_sample([1, 2], [3] * n) for n in (1, 5, 2, 7, 3)]
    shards = policy_shards(samples, [0.1, 0.5, 0.2, 0.7, 0.3], num_workers=2, micro_batch_size=2, pad_id=0)
    assert len({len(s) for s in shards}) == 1
    tokens, seqs = count_loss_tokens(shards)
    assert tokens == 1 + 5 + 2 + 7 + 3 and seqs == 5
    # each advantage travels with its sample through the balancing (n tokens <-> advantage n / 10)
    for mbs in shards:
        for mb in mbs:
            if mb["num_tokens"]:
                lengths = mb["loss_mask"].sum(-1).tolist()
                assert [round(a, 3) for a in mb["advantages"].tolist()] == [n / 10 for n in lengths]


def test_masked_truncations_leave_the_loss_but_fillers_add_nothing():
    samples = [_sample([1], [2, 3], truncated=True), _sample([1], [2, 3, 4])]
    shards = policy_shards(samples, [1.0, 1.0], num_workers=3, micro_batch_size=4, pad_id=0, drop_truncated=True)
    assert len(shards) == 3 and all(len(s) == 1 for s in shards)
    assert count_loss_tokens(shards) == (3, 1)
    kept = policy_shards(samples, [1.0, 1.0], num_workers=3, micro_batch_size=4, pad_id=0)
    assert count_loss_tokens(kept) == (5, 2)  # overlong != mask: truncated responses train


def test_balance_spreads_tokens():
    samples = [_sample([1], [2] * n) for n in (10, 9, 1, 1)]
    a, b = balance(samples, 2)
    load = lambda s: sum(len(x.response_ids) + 1 for x in s)  # noqa: E731
    assert abs(load(a) - load(b)) <= 2


def test_lr_schedule_shapes():
    assert lr_factor(0, 10, 100, "cosine") == 0.1
    assert lr_factor(9, 10, 100, "cosine") == 1.0
    assert abs(lr_factor(100, 10, 100, "cosine") - 0.1) < 1e-9
    assert lr_factor(55, 10, 100, "linear") == 0.5
    assert lr_factor(50, 0, 100, "constant") == 1.0
    try:
        lr_factor(50, 0, 100, "bogus")
    except ValueError as exc:
        assert "learner.lr_schedule" in str(exc)
    else:
        raise AssertionError("unknown schedule accepted")


def test_worker_micro_batches_pads_short_workers_with_the_filler_only():
    from rlvr.learner.batching import worker_micro_batches

    built = worker_micro_batches([[1, 2, 3], [4]], 2, lambda items: {"items": list(items)},
                                 lambda shards: {"items": [], "first": shards[0][0]["items"]})
    assert built == [[{"items": [1, 2]}, {"items": [3]}], [{"items": [4]}, {"items": [], "first": [1, 2]}]]
    even = worker_micro_batches([[1], [2]], 2, lambda items: {"items": list(items)}, lambda shards: 1 / 0)
    assert even == [[{"items": [1]}], [{"items": [2]}]]  # no filler built when every worker is even
