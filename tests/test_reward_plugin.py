"""A third-party verifier (examples/custom_verifier, installed by scripts/install.sh) can be named by
the training config and scores groups through the same pool as the built-ins."""
import pytest

from rlvr.rewards import RewardScorer, keep_group, make_batch, shape_rewards
from rlvr.types import Group, GroupRequest, Sample
from rlvr.train_app import compose


def _group(texts, truth="Paris"):
    req = GroupRequest(prompt_id="p", prompt="Capital of France?", prompt_ids=[1], ground_truth=truth,
                       verifier="math", step=0, n=len(texts), max_tokens=8)
    samples = [Sample("p", [1], [2], t, [-0.1], "stop") for t in texts]
    return Group(request=req, samples=samples, version=0)


def test_config_names_the_plugin_verifier():
    cfg = compose(["reward.verifier=exact_match"])
    scorer = RewardScorer(cfg.reward.verifier, dict(cfg.reward.options), 10.0, 1)
    try:
        g = _group(["Paris", "London", "paris"])
        scored = shape_rewards(g, scorer.score(g), cfg.algorithm)
        assert scored.rewards[:2] == [1.0, 0.0]
        assert keep_group(scored, cfg.algorithm)
        batch = make_batch([scored], [scored], cfg.algorithm)
        assert batch.advantages[0] > 0 > batch.advantages[1]
    finally:
        scorer.close()


def test_unknown_verifier_fails_at_start_up():
    cfg = compose(["reward.verifier=no_such_verifier"])
    with pytest.raises(ValueError, match="no_such_verifier"):
        RewardScorer(cfg.reward.verifier, {}, 10.0, 1)
