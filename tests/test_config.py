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


@pytest.mark.parametrize("override, message", [
    ("algorithm.overlong=soft", "algorithm.overlong='soft' is not allowed; choose one of: none, mask, soft_penalty"),
    ("algorithm.advantage=grpo", "algorithm.advantage='grpo' is not allowed; choose one of: centered, standardized, rloo"),
    ("algorithm.loss_agg=mean", "algorithm.loss_agg='mean'"),
    ("algorithm.tis=tokens", "algorithm.tis='tokens'"),
    ("algorithm.kl_estimator=k5", "algorithm.kl_estimator='k5'"),
    ("algorithm.retire_scope=forever", "algorithm.retire_scope='forever' is not allowed; choose one of: epoch, run"),
    ("algorithm.filter_on=acc", "algorithm.filter_on='acc' is not allowed; choose one of: reward, correct"),
    ("learner.lr_schedule=step", "learner.lr_schedule='step' is not allowed; choose one of: constant, cosine, linear"),
    ("learner.mixed_precision=fp16", "learner.mixed_precision='fp16'"),
    ("learner.backend=mpi", "learner.backend='mpi' is not allowed; choose one of: auto, gloo, nccl"),
])
def test_enum_values_are_checked_when_composed(override, message):
    with pytest.raises(ValueError) as err:
        compose([override])
    assert message in str(err.value)


def test_learner_defaults_are_the_only_defaults():
    # one place: the worker reads LearnerConfig fields, it has no fallbacks of its own
    cfg = compose([])
    assert cfg.learner.lr == 8e-6 and cfg.steps == 150 and cfg.learner.warmup_steps == 5 and cfg.algorithm.filter_on == "reward"


PRESETS = ["olmorl", "grpo", "dapo", "dr_grpo", "campo", "campo_released"]


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_corrects_staleness_or_runs_synchronously(name):
    """Issue 10: a preset that samples asynchronously (async_steps >= 1) corrects the staleness, by TIS with
    the engine's log-probs or by the engine's log-probs as the PPO ratio's denominator; and its file says which."""
    from rlvr.config import corrects_staleness
    from rlvr.paths import CONF_DIR

    cfg = compose([f"algorithm={name}"])
    assert cfg.rollout.async_steps == 0 or corrects_staleness(cfg), name
    text = (CONF_DIR / "algorithm" / f"{name}.yaml").read_text()
    assert "off-policy:" in text and "Inert at these settings" in text


@pytest.mark.parametrize("override", ["rollout.top_p=0.9", "rollout.top_k=20"])
@pytest.mark.parametrize("preset", ["algorithm=olmorl", "algorithm=grpo"])
def test_truncated_sampling_is_rejected_where_engine_logprobs_enter_the_loss(override, preset):
    key = override.split("=")[0]
    with pytest.raises(ValueError, match=f"{key}=.*not the learner's"):
        compose([preset, override])
    # allowed where the loss never reads the engine's log-probs: no TIS, learner denominator, synchronous
    ok = compose([preset, override, "algorithm.tis=none", "algorithm.old_logprobs=learner", "rollout.async_steps=0"])
    assert ok.rollout.top_p < 1 or ok.rollout.top_k > 0


def test_eval_pass_k_must_not_exceed_the_samples():
    with pytest.raises(ValueError, match="eval.pass_k=3"):
        compose(["eval.samples=2", "eval.pass_k=3"])
    assert compose(["eval.samples=4", "eval.pass_k=2"]).eval.pass_k == 2
