import pytest
from omegaconf import OmegaConf

from rlvr.algorithms.config import AlgorithmConfig, LengthStage
from rlvr.algorithms.length_schedule import LengthSchedule


def three_stages():
    return [
        LengthStage(max_tokens=48, eps_low=0.2, eps_high=0.28, until_step=3),
        LengthStage(max_tokens=64, eps_low=0.2, eps_high=0.3, until_truncation_rate=0.5),
        LengthStage(max_tokens=96, eps_low=0.1, eps_high=0.35, until_step=1),  # last stage: triggers ignored
    ]


def test_step_trigger_then_rate_trigger_then_last_stage_stays():
    sched = LengthSchedule(three_stages(), 256, 0.2, 0.272)
    assert sched.index == 0 and sched.max_tokens == 48
    assert sched.update(1, 0.9) is False  # stage 0 has no rate trigger
    assert sched.update(2, None) is False
    assert sched.update(3, 0.0) is True
    assert (sched.index, sched.max_tokens, sched.eps_high) == (1, 64, 0.3)
    assert sched.update(4, 0.49) is False
    assert sched.update(5, 0.5) is True
    assert (sched.index, sched.max_tokens, sched.eps_low, sched.eps_high) == (2, 96, 0.1, 0.35)
    assert sched.update(100, 1.0) is False and sched.index == 2


def test_step_triggers_can_skip_stages_but_rate_moves_one():
    stages = [LengthStage(max_tokens=8, until_step=2, until_truncation_rate=0.2),
              LengthStage(max_tokens=16, until_step=4, until_truncation_rate=0.2),
              LengthStage(max_tokens=32)]
    sched = LengthSchedule(stages, 0, 0.2, 0.2)
    assert sched.update(0, 0.9) is True and sched.max_tokens == 16  # one stage on a high rate
    sched2 = LengthSchedule(stages, 0, 0.2, 0.2)
    assert sched2.update(10, None) is True and sched2.max_tokens == 32  # e.g. resumed late


def test_defaults_make_one_stage():
    sched = LengthSchedule([], 512, 0.2, 0.272)
    assert (sched.index, sched.stages[0]) == (0, LengthStage(max_tokens=512, eps_low=0.2, eps_high=0.272))
    assert sched.update(10_000, 1.0) is False


def test_accepts_omegaconf_stages_and_validates():
    cfg = OmegaConf.merge(OmegaConf.structured(AlgorithmConfig),
                          {"length_stages": [{"max_tokens": 48, "until_step": 2}, {"max_tokens": 64}]})
    sched = LengthSchedule(cfg.length_stages, 256, cfg.eps_low, cfg.eps_high)
    assert sched.update(2) and sched.max_tokens == 64
    with pytest.raises(ValueError, match=r"length_stages\[1\].max_tokens"):
        LengthSchedule([LengthStage(max_tokens=4), LengthStage(max_tokens=0)], 0, 0.2, 0.2)
    with pytest.raises(ValueError, match="until_step values must increase"):
        LengthSchedule([LengthStage(until_step=5), LengthStage(until_step=3), LengthStage()], 0, 0.2, 0.2)
    with pytest.raises(ValueError, match="unknown fields"):
        LengthSchedule([{"max_token": 4}], 0, 0.2, 0.2)
