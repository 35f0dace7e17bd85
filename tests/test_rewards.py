"""score -> shape -> filter -> advantages on hand-made groups (no verifier processes): the route the trainer runs."""
import pytest
import torch

from rlvr.algorithms.config import AlgorithmConfig, RepetitionConfig
from rlvr.rewards import ScoredGroup, Verdicts, keep_group, make_batch, shape_rewards
from rlvr.types import Group, GroupRequest, Sample


def _group(responses, finish=None, pid="p"):
    req = GroupRequest(prompt_id=pid, prompt="q", prompt_ids=[1], ground_truth="1", verifier="math", step=0,
                       n=len(responses), max_tokens=20)
    finish = finish or ["stop"] * len(responses)
    samples = [Sample(pid, [1], list(r), "", [-0.1] * len(r), f) for r, f in zip(responses, finish)]
    return Group(request=req, samples=samples, version=0)


def _verdicts(rewards, correct=None):
    return Verdicts(list(rewards), list(correct if correct is not None else [r > 0 for r in rewards]),
                    [None] * len(rewards))


def test_shaping_adds_the_soft_overlong_penalty_and_keeps_samples_untouched():
    # max 20, buffer 4: length 10 free, 18 -> -(18 - 16) / 4 = -0.5, 20 -> -1.
    algo = AlgorithmConfig(overlong="soft_penalty", overlong_buffer=4, overlong_penalty=1.0)
    g = _group([[2] * 10, [3] * 18, [4] * 20], ["stop", "stop", "length"])
    scored = shape_rewards(g, _verdicts([1.0, 1.0, 0.0]), algo)
    assert scored.rewards == [1.0, 0.5, -1.0]
    assert scored.correct == [True, True, False] and scored.repetition_penalty == [0.0, 0.0, 0.0]
    assert not hasattr(g.samples[0], "reward")  # nothing is written into the samples


def test_shaping_subtracts_the_repetition_penalty():
    # [5,6,7,8] has no loop; [1,2,1,2] loops over the whole response: f = 1 -> penalty coef * 1 = 0.5.
    algo = AlgorithmConfig(repetition=RepetitionConfig(enabled=True, coef=0.5))
    scored = shape_rewards(_group([[5, 6, 7, 8], [1, 2, 1, 2]]), _verdicts([1.0, 1.0]), algo)
    assert scored.repetition_penalty == [0.0, 0.5] and scored.rewards == [1.0, 0.5]


def test_filter_on_reward_or_on_correctness():
    # all correct, but the shaped rewards differ: a reward filter keeps it, the DAPO/CAMPO rule does not.
    g = ScoredGroup(_group([[2], [3]]), rewards=[1.0, 0.5], correct=[True, True], errors=[None, None],
                    repetition_penalty=[0.0, 0.5])
    assert keep_group(g, AlgorithmConfig(filter_on="reward"))
    assert not keep_group(g, AlgorithmConfig(filter_on="correct"))
    flat = ScoredGroup(g.group, rewards=[0.0, 0.0], correct=[False, True], errors=[None, None],
                       repetition_penalty=[0.0, 0.0])
    assert not keep_group(flat, AlgorithmConfig(filter_on="reward"))
    assert keep_group(flat, AlgorithmConfig(filter_on="correct"))
    assert keep_group(flat, AlgorithmConfig(filter_zero_std=False))


def test_batch_advantages_are_group_relative_over_the_kept_groups():
    algo = AlgorithmConfig(reward_scale=10.0, overlong="mask")  # the olmorl preset's values
    a = shape_rewards(_group([[2], [3], [4]], pid="a"), _verdicts([1.0, 0.0, 0.0]), algo)
    b = shape_rewards(_group([[2], [3]], pid="b"), _verdicts([0.0, 0.0]), algo)
    batch = make_batch([a, b], [a], algo)
    # centered: 10 * (r - mean) = 10 * [2/3, -1/3, -1/3]
    assert batch.advantages == pytest.approx([20 / 3, -10 / 3, -10 / 3], rel=1e-6)
    assert batch.samples == a.group.samples and len(batch.all_samples) == 5
    assert batch.drop_truncated and batch.truncation_rate == 0.0
    assert make_batch([b], [], algo).advantages == []
    assert torch.tensor(batch.advantages).dtype == torch.float32
