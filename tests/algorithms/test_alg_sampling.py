import pytest
import torch

from rlvr.algorithms.sampling import (
    PromptRetirement,
    dynamic_sampling_keep,
    mask_truncated,
    overlong_soft_penalty,
    zero_std_mask,
)


def test_zero_std_mask():
    # groups (sorted ids): 3 -> [1, 1] constant, 5 -> [0, 1] signal, 8 -> [0.5, 0.5, 0.5] constant, 9 -> [2] one
    rewards = torch.tensor([0.0, 1.0, 1.0, 0.5, 1.0, 0.5, 0.5, 2.0])
    groups = torch.tensor([5, 3, 5, 8, 3, 8, 8, 9])
    assert zero_std_mask(rewards, groups).tolist() == [True, False, True, True]


def test_dynamic_sampling_rule():
    # G = 4: 0 correct -> drop, 2 correct -> keep, 4 correct -> drop; a singleton only with keep_singletons.
    correct = torch.tensor([0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1])
    groups = torch.tensor([0] * 4 + [1] * 4 + [2] * 4 + [3])
    assert dynamic_sampling_keep(correct, groups).tolist() == [False, True, False, False]
    assert dynamic_sampling_keep(correct.bool(), groups, keep_singletons=True).tolist() == [False, True, False, True]
    with pytest.raises(ValueError, match="0/1"):
        dynamic_sampling_keep(torch.tensor([0.5, 1.0]), torch.tensor([0, 0]))


def test_overlong_soft_penalty_dapo():
    # max 20, buffer 4 -> free up to 16, then -(len - 16)/4 * factor, -factor beyond 20.
    lengths = torch.tensor([10, 16, 17, 18, 20, 21])
    out = overlong_soft_penalty(lengths, max_tokens=20, buffer=4, factor=0.5)
    torch.testing.assert_close(out, torch.tensor([0.0, 0.0, -0.125, -0.25, -0.5, -0.5]))
    with pytest.raises(ValueError, match="overlong_buffer"):
        overlong_soft_penalty(lengths, max_tokens=20, buffer=0, factor=1.0)


def test_mask_truncated():
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    out = mask_truncated(mask, torch.tensor([False, True]))
    assert out.tolist() == [[True, True, False], [False, False, False]]
    with pytest.raises(ValueError, match="truncated"):
        mask_truncated(mask, torch.tensor([1, 0]))


def test_prompt_retirement_epoch_and_run_scopes():
    ret = PromptRetirement(threshold=0.9)
    assert ret.retire(["a", "b", "c"], [1.0, 0.5, 0.9]) == ["a", "c"]
    assert ret.is_retired("a") and not ret.is_retired("b")
    assert ret.retire(["a"], [1.0]) == []  # already retired
    ret.new_epoch()
    assert not ret.is_retired("a") and ret.pass_rates == {} and ret.epoch == 1

    forever = PromptRetirement(threshold=1.0, scope="run")
    forever.retire([7, 8], [1.0, 0.99])
    forever.new_epoch()
    assert forever.is_retired(7) and not forever.is_retired(8) and forever.epoch == 1
    with pytest.raises(ValueError, match="retire_pass_rate"):
        PromptRetirement(threshold=0.0)
    with pytest.raises(ValueError, match="prompt 'x'"):
        ret.retire(["x"], [1.5])
