from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from rlvr.algorithms.advantages import compute_advantages
from rlvr.algorithms.config import (
    ADVANTAGE_KINDS,
    KL_ESTIMATORS,
    LOSS_AGG_MODES,
    PENALTY_FORMS,
    TIS_LEVELS,
    AlgorithmConfig,
)
from rlvr.algorithms.length_schedule import LengthSchedule
from rlvr.algorithms.repetition import repetition_penalty

CONF = Path(__file__).resolve().parents[2] / "conf" / "algorithm"
PRESETS = sorted(p.stem for p in CONF.glob("*.yaml"))


def load(name: str) -> AlgorithmConfig:
    merged = OmegaConf.merge(OmegaConf.structured(AlgorithmConfig), OmegaConf.load(CONF / f"{name}.yaml"))
    return OmegaConf.to_object(merged)


def test_all_expected_presets_exist():
    assert {"olmorl", "campo", "grpo", "dapo", "dr_grpo"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_values_are_valid(name):
    cfg = load(name)
    assert cfg.name == name
    assert cfg.advantage in ADVANTAGE_KINDS and cfg.loss_agg in LOSS_AGG_MODES
    assert cfg.tis in TIS_LEVELS and cfg.kl_estimator in KL_ESTIMATORS
    assert cfg.overlong in ("none", "mask", "soft_penalty") and cfg.repetition.form in PENALTY_FORMS
    sched = LengthSchedule(cfg.length_stages, 128, cfg.eps_low, cfg.eps_high)
    assert sched.max_tokens > 0
    cfg.validate()


def test_recipe_values():
    olmo = load("olmorl")
    assert (olmo.advantage, olmo.eps_high, olmo.tis, olmo.tis_cap, olmo.kl_coef, olmo.loss_agg) == (
        "centered", 0.272, "token", 2.0, 0.0, "token")
    campo = load("campo")
    assert campo.std_unbiased and campo.dual_clip_c == 10.0 and campo.repetition.enabled
    assert (campo.eps_low, campo.eps_high) == (0.2, 0.28)
    assert [s.max_tokens for s in campo.length_stages] == [48, 64, 96]
    grpo = load("grpo")
    assert (grpo.loss_agg, grpo.kl_coef, grpo.kl_estimator, grpo.eps_high) == ("seq_mean", 0.04, "k3", 0.2)
    dapo = load("dapo")
    assert dapo.overlong == "soft_penalty" and dapo.active_sampling and dapo.eps_high == 0.28
    # the documented dynamic-sampling rule 0 < #correct < G; OlmoRL keeps filtering on the reward
    assert (dapo.filter_on, campo.filter_on, load("campo_released").filter_on, olmo.filter_on) == (
        "correct", "correct", "correct", "reward")
    dr = load("dr_grpo")
    assert (dr.advantage, dr.loss_agg) == ("centered", "constant")


def test_campo_released_reproduces_reference_advantages():
    # campo.md (ran): group [correct, wrong, wrong-and-looping-and-truncated] -> [1.151, -0.493, -0.658].
    cfg = load("campo_released")
    ids = torch.tensor([[5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6], [1, 2, 3, 1, 2, 3]])
    pen = repetition_penalty(ids, torch.tensor([6, 6, 6]), torch.tensor([False, True, True]), cfg.repetition)
    rewards = torch.tensor([1.0, 0.0, 0.0]) - pen
    adv = compute_advantages(rewards, torch.zeros(3, dtype=torch.long), cfg.advantage,
                             std_eps=cfg.std_eps, std_unbiased=cfg.std_unbiased)
    torch.testing.assert_close(adv, torch.tensor([1.1508, -0.4932, -0.6576]), atol=1e-4, rtol=0)


@pytest.mark.parametrize("key, bad", [("advantage", "centred"), ("loss_agg", "tokens"), ("tis", "seq"),
                                      ("kl_estimator", "k4"), ("overlong", "soft"), ("retire_scope", "forever"),
                                      ("filter_on", "acc")])
def test_validate_names_the_key_and_the_allowed_values(key, bad):
    cfg = AlgorithmConfig(**{key: bad})
    with pytest.raises(ValueError, match=rf"algorithm\.{key}='{bad}' is not allowed; choose one of: "):
        cfg.validate()


def test_validate_checks_the_repetition_form():
    cfg = load("campo")
    cfg.repetition.form = "linear"
    with pytest.raises(ValueError, match="algorithm.repetition.form='linear'.*fraction, constant"):
        cfg.validate()
