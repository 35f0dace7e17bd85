import pytest
import torch

from rlvr.algorithms.advantages import compute_advantages, dense_group_index


def test_centered_olmo3_example():
    # Olmo 3 Eq. 2 example: 3 of 8 correct -> mean 0.375 -> +0.625 / -0.375.
    rewards = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0], dtype=torch.float32)
    adv = compute_advantages(rewards, torch.zeros(8, dtype=torch.long), "centered")
    expected = torch.tensor([0.625] * 3 + [-0.375] * 5)
    torch.testing.assert_close(adv, expected)


def test_standardized_unbiased_campo_reference():
    # campo.md: rewards [1, 0, 0 - 0.1 penalty] -> [1.151, -0.493, -0.658] (torch.std, N - 1).
    adv = compute_advantages(torch.tensor([1.0, 0.0, -0.1]), torch.tensor([5, 5, 5]), "standardized",
                             std_unbiased=True)
    # by hand: mean 0.3, deviations 0.7/-0.3/-0.4, sum of squares 0.74, var 0.37, std 0.60828
    torch.testing.assert_close(adv, torch.tensor([1.1508, -0.4932, -0.6576]), atol=1e-4, rtol=0)


def test_standardized_population_std():
    # [1, 0]: mean 0.5, population std 0.5 -> +-1 (minus the eps effect).
    adv = compute_advantages(torch.tensor([1.0, 0.0]), torch.tensor([0, 0]), "standardized", std_eps=0.0)
    torch.testing.assert_close(adv, torch.tensor([1.0, -1.0]))


def test_groups_are_independent_and_interleaved():
    rewards = torch.tensor([1.0, 4.0, 0.0, 2.0, 3.0])
    groups = torch.tensor([7, 2, 7, 2, 9])  # arbitrary ids, interleaved, one singleton
    centered = compute_advantages(rewards, groups, "centered")
    torch.testing.assert_close(centered, torch.tensor([0.5, 1.0, -0.5, -1.0, 0.0]))
    std = compute_advantages(rewards, groups, "standardized", std_eps=0.0)
    torch.testing.assert_close(std, torch.tensor([1.0, 1.0, -1.0, -1.0, 0.0]))  # singleton -> 0


def test_rloo_leave_one_out():
    # r = [3, 0, 0]: A_0 = 3 - 0 = 3; A_1 = 0 - (3 + 0)/2 = -1.5; A_2 = -1.5.
    adv = compute_advantages(torch.tensor([3.0, 0.0, 0.0, 5.0]), torch.tensor([0, 0, 0, 1]), "rloo")
    torch.testing.assert_close(adv, torch.tensor([3.0, -1.5, -1.5, 0.0]))


def test_valid_mask_excludes_rows_from_group_stats():
    # Truncated row 2 out of the mean ("mask before"): mean of [1, 0] = 0.5 instead of 1/3.
    rewards = torch.tensor([1.0, 0.0, 0.0])
    valid = torch.tensor([True, True, False])
    adv = compute_advantages(rewards, torch.zeros(3, dtype=torch.long), "centered", valid=valid)
    torch.testing.assert_close(adv, torch.tensor([0.5, -0.5, 0.0]))
    after = compute_advantages(rewards, torch.zeros(3, dtype=torch.long), "centered")
    torch.testing.assert_close(after, torch.tensor([2 / 3, -1 / 3, -1 / 3]))


def test_integer_rewards_and_dtype():
    adv = compute_advantages(torch.tensor([1, 0]), torch.tensor([0, 0]), "centered")
    assert adv.dtype == torch.float32
    torch.testing.assert_close(adv, torch.tensor([0.5, -0.5]))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="algorithm.advantage"):
        compute_advantages(torch.zeros(2), torch.zeros(2, dtype=torch.long), "zscore")
    with pytest.raises(ValueError, match="shape"):
        compute_advantages(torch.zeros(2), torch.zeros(3, dtype=torch.long), "centered")
    with pytest.raises(ValueError, match="rows \\[1\\]"):
        compute_advantages(torch.tensor([0.0, float("nan")]), torch.zeros(2, dtype=torch.long), "centered")
    with pytest.raises(TypeError):
        dense_group_index(torch.zeros(2))
