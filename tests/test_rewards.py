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


def _preset(name):
    from rlvr.train_app import compose

    return compose([f"algorithm={name}"]).algorithm


def test_dapo_and_campo_filter_on_correctness_not_the_shaped_reward():
    # CAMPO: all wrong, one looping answer -> shaped rewards differ (0 and -1) but 0 correct: dropped.
    campo = _preset("campo")
    g = _group([[1, 2, 3, 4], [7, 7, 7, 7]])
    scored = shape_rewards(g, _verdicts([0.0, 0.0], [False, False]), campo)
    assert scored.rewards == [0.0, -1.0] and not keep_group(scored, campo)
    # DAPO: all correct, one over-long -> rewards differ by the length penalty but G correct: dropped.
    dapo = _preset("dapo")
    g = _group([[2] * 3, [3] * 19])
    scored = shape_rewards(g, _verdicts([1.0, 1.0]), dapo)
    assert scored.rewards[0] == 1.0 and scored.rewards[1] < 1.0 and not keep_group(scored, dapo)


def test_dapo_over_long_buffer_is_a_fifth_of_the_sampled_budget():
    # DAPO paper: 4,096 of 20,480 tokens. Budget 32 -> buffer 6.4, ramp from 25.6:
    # length 30 -> (25.6 - 30) / 6.4 = -0.6875; length 25 -> 0; 32 -> -1. (The old 16 of 32 gave -0.875 at 30.)
    dapo = _preset("dapo")
    assert dapo.overlong_buffer_for(32) == pytest.approx(6.4) and dapo.overlong_buffer_for(20480) == 4096
    g = _group([[2] * 25, [3] * 30, [4] * 32], ["stop", "stop", "length"])
    g.request.max_tokens = 32
    scored = shape_rewards(g, _verdicts([1.0, 1.0, 0.0]), dapo)
    assert scored.rewards == pytest.approx([1.0, 1.0 - 0.6875, -1.0])


def test_over_long_penalty_uses_the_budget_the_group_was_sampled_with():
    # A group sampled at budget 20 arrives after the stage moved on: its penalty is judged against 20.
    algo = AlgorithmConfig(overlong="soft_penalty", overlong_buffer=4, overlong_penalty=1.0)
    g = _group([[2] * 18])
    assert g.request.max_tokens == 20
    assert shape_rewards(g, _verdicts([1.0]), algo).rewards == [0.5]  # (16 - 18) / 4 = -0.5
    g.request.max_tokens = 40
    assert shape_rewards(g, _verdicts([1.0]), algo).rewards == [1.0]


def test_a_response_ending_on_the_stop_string_is_not_a_loop():
    # paper-form CAMPO: [5, 6, 9, 9] where the two 9s are "\n" "\n" (the matched "\n\n" stop): no loop.
    campo = _preset("campo")
    g = _group([[5, 6, 9, 9], [5, 6, 9, 9]])
    g.samples[0].stop_tokens = 2
    scored = shape_rewards(g, _verdicts([1.0, 1.0]), campo)
    # sample 1 without the stop mark: its trailing 9, 9 is a loop of period 1 covering 2/4 of it.
    assert scored.repetition_penalty == [0.0, 0.5]
    loop = _group([[1, 2, 1, 2, 9, 9]])
    loop.samples[0].stop_tokens = 2
    assert shape_rewards(loop, _verdicts([1.0]), campo).repetition_penalty == [1.0]  # the body [1,2,1,2] loops


def test_a_prompt_drawn_twice_in_a_step_gets_independent_sample_ids():
    from rlvr.rewards import score_items

    first, second = _group([[2], [3]]), _group([[2], [3]])
    second.request.uid = 1
    ids = [i.metadata["sample_id"] for g in (first, second) for i in score_items(g, "random")]
    assert len(set(ids)) == 4 and all(i.verifier == "random" for i in score_items(first, "random"))
