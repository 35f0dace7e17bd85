"""The Hydra config tree composes into the typed TrainConfig, presets and groups included."""
import pytest
from hydra.errors import ConfigCompositionException

from rlvr.train_app import compose


def test_default_experiment():
    cfg = compose([])
    assert cfg.algorithm.name == "olmorl"
    assert cfg.data.source == "arithmetic"
    assert cfg.rollout.num_engines == 1 and cfg.learner.num_workers == 2
    assert cfg.rollout.async_steps == 1
    assert cfg.algorithm.eps_low == 0.2 and cfg.algorithm.eps_high == 0.272
    assert cfg.algorithm.tis_cap == 2.0 and cfg.algorithm.kl_coef == 0.0
    assert cfg.reward.verifier == ""


@pytest.mark.parametrize("name", ["olmorl", "campo", "grpo", "dapo", "dr_grpo"])
def test_algorithm_presets_compose(name):
    cfg = compose([f"algorithm={name}"])
    assert cfg.algorithm.name.startswith(name.split("_")[0])


def test_campo_has_three_stages():
    cfg = compose(["algorithm=campo"])
    assert len(cfg.algorithm.length_stages) == 3
    assert cfg.algorithm.repetition.enabled


def test_random_reward_group():
    cfg = compose(["reward=random"])
    assert cfg.reward.verifier == "random" and cfg.reward.options["p"] == 0.5


def test_typo_is_an_error():
    with pytest.raises(ConfigCompositionException):
        compose(["rollout.max_tokns=3"])
