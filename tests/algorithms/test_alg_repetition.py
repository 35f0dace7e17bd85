import random

import pytest
import torch

from rlvr.algorithms.config import RepetitionConfig
from rlvr.algorithms.repetition import loop_fraction, loop_fractions, repetition_penalty


def walk_left_reference(ids, min_repeats=2):
    """Direct transcription of the detector's definition: for every period L, walk left from the end counting
    equal consecutive blocks; the largest qualifying L wins. O(n^2) but obviously right."""
    n = len(ids)
    best = 0.0
    for period in range(1, n // 2 + 1):
        blocks = 1
        while n - (blocks + 1) * period >= 0 and (
            ids[n - (blocks + 1) * period: n - blocks * period] == ids[n - blocks * period: n - (blocks - 1) * period]
        ):
            blocks += 1
        if blocks >= min_repeats:
            best = blocks * period / n
    return best


def test_campo_ran_examples():
    assert loop_fraction([1, 2, 3, 4, 5, 6, 7, 7]) == pytest.approx(0.25)  # 2 of 8 tokens
    assert loop_fraction([9, 8, 7, 6] + [1, 2, 3] * 3) == pytest.approx(9 / 13)  # 0.692
    assert loop_fraction([1, 2, 3, 7, 7, 1, 2, 3, 7, 7]) == pytest.approx(1.0)  # period 5 beats period 1
    assert loop_fraction([1, 2, 3, 4, 5, 6, 7, 8]) == 0.0
    assert loop_fraction(torch.tensor([4, 5, 6, 6])) == pytest.approx(0.5)


def test_largest_period_wins_even_with_a_smaller_fraction():
    # Period 6 ("3 7 7 7 7 7" twice) beats period 1 and covers the whole response.
    assert loop_fraction([3, 7, 7, 7, 7, 7, 3, 7, 7, 7, 7, 7]) == pytest.approx(1.0)
    # Five trailing 7s: period 1 covers 5/9, but period 2 ([7, 7] twice) also qualifies and is larger, so the
    # detector reports 4/9 -- the released code's "overwrite as L grows" rule, kept on purpose.
    assert loop_fraction([1, 2, 3, 4, 7, 7, 7, 7, 7]) == pytest.approx(4 / 9)
    assert walk_left_reference([1, 2, 3, 4, 7, 7, 7, 7, 7]) == pytest.approx(4 / 9)


def test_min_repeats():
    ids = [5, 6] + [1, 2, 3] * 2
    assert loop_fraction(ids, min_repeats=2) == pytest.approx(6 / 8)
    assert loop_fraction(ids, min_repeats=3) == 0.0
    assert loop_fraction([5, 6] + [1, 2, 3] * 3, min_repeats=3) == pytest.approx(9 / 11)
    with pytest.raises(ValueError, match="min_repeats"):
        loop_fraction(ids, min_repeats=1)


def test_edge_lengths():
    assert loop_fraction([]) == 0.0
    assert loop_fraction([4]) == 0.0
    assert loop_fraction([4, 4]) == 1.0


@pytest.mark.parametrize("min_repeats", [2, 3])
def test_matches_walk_left_reference_on_random_sequences(min_repeats):
    rng = random.Random(1234 + min_repeats)
    for _ in range(400):
        n = rng.randint(0, 40)
        vocab = rng.choice([2, 3, 5])
        ids = [rng.randrange(vocab) for _ in range(n)]
        if n > 6 and rng.random() < 0.5:  # plant a trailing loop
            period = rng.randint(1, 5)
            ids = ids[: n // 2] + (ids[:period] * n)[: n - n // 2]
        assert loop_fraction(ids, min_repeats) == pytest.approx(walk_left_reference(ids, min_repeats)), ids


def test_batched_uses_lengths():
    ids = torch.tensor([[1, 2, 3, 7, 7, 0, 0], [9, 8, 7, 6, 1, 2, 3], [1, 1, 1, 1, 1, 1, 1]])
    lengths = torch.tensor([5, 7, 0])
    out = loop_fractions(ids, lengths)
    torch.testing.assert_close(out, torch.tensor([0.4, 0.0, 0.0]))
    with pytest.raises(ValueError, match="lengths out of range"):
        loop_fractions(ids, torch.tensor([5, 8, 0]))


def test_penalty_earlier_loop_costs_more_and_forms():
    loop = [4, 5, 6] * 4
    early = [1, 2] + loop  # loop starts at token 2 of 14
    late = [1, 2, 3, 8, 9, 10, 11, 12] + [4, 5, 6] * 2  # loop starts at token 8 of 14
    assert len(early) == len(late) == 14
    ids = torch.tensor([early, late, list(range(14))])
    lengths = torch.tensor([14, 14, 14])
    truncated = torch.tensor([True, True, False])
    frac_cfg = RepetitionConfig(enabled=True, coef=1.0, form="fraction")
    pen = repetition_penalty(ids, lengths, truncated, frac_cfg)
    torch.testing.assert_close(pen, torch.tensor([12 / 14, 6 / 14, 0.0]))
    assert pen[0] > pen[1] > pen[2]
    const_cfg = RepetitionConfig(enabled=True, coef=0.1, form="constant")
    torch.testing.assert_close(repetition_penalty(ids, lengths, truncated, const_cfg), torch.tensor([0.1, 0.1, 0.0]))
    only_trunc = RepetitionConfig(enabled=True, coef=0.1, form="constant", only_truncated=True)
    torch.testing.assert_close(repetition_penalty(ids, lengths, torch.tensor([False, True, False]), only_trunc),
                               torch.tensor([0.0, 0.1, 0.0]))
    torch.testing.assert_close(repetition_penalty(ids, lengths, truncated, RepetitionConfig()), torch.zeros(3))
    with pytest.raises(ValueError, match="truncated"):
        repetition_penalty(ids, lengths, None, only_trunc)
    with pytest.raises(ValueError, match="form"):
        repetition_penalty(ids, lengths, truncated, RepetitionConfig(enabled=True, form="log"))


def test_long_response_is_fast():
    import time
    rng = random.Random(0)
    n = 16384
    prefix = [1000 + rng.randrange(50) for _ in range(4000)]  # disjoint vocabulary: cannot extend the loop
    block = [rng.randrange(50) for _ in range(37)]
    looping = prefix + (block * 400)[: n - 4000]
    start = time.perf_counter()
    frac = loop_fraction(looping)
    elapsed = time.perf_counter() - start
    # The loop covers 12384 tokens; the largest period with two whole blocks in it is 37 * 167 = 6179.
    assert frac == pytest.approx(2 * 6179 / n)
    assert elapsed < 1.0


def test_planted_loop_fraction_exact():
    rng = random.Random(1)
    prefix = [100 + i for i in range(30)]  # distinct tokens, cannot be part of any loop
    block = [rng.randrange(5) for _ in range(7)]
    ids = prefix + block * 10  # n = 100; every multiple of 7 up to 35 qualifies, largest 35 (2 blocks of 35)
    assert loop_fraction(ids) == pytest.approx(70 / 100)
