"""A third-party verifier (examples/custom_verifier, installed by scripts/install.sh) can be named by
the training config and scores groups through the same pool as the built-ins."""
import pytest

from rlvr.rewards import RewardScorer, assign_advantages, has_signal
from rlvr.rollout.types import Group, GroupRequest, Sample
from rlvr.train_app import compose


def _group(texts, truth="Paris"):
    req = GroupRequest(prompt_id="p", prompt="Capital of France?", prompt_ids=[1], ground_truth=truth,
                       verifier="math", step=0, n=len(texts), max_tokens=8, seed=0)
    samples = [Sample("p", [1], [2], t, [-0.1], "stop", 0) for t in texts]
    return Group(request=req, samples=samples, version=0, engine=0)


def test_config_names_the_plugin_verifier():
    cfg = compose(["reward.verifier=exact_match"])
    scorer = RewardScorer(cfg.reward.verifier, dict(cfg.reward.options), 10.0, 1, cfg.algorithm)
    try:
        g = _group(["Paris", "London", "paris"])
        scorer.score_group(g, max_tokens=8)
        assert [s.reward for s in g.samples][:2] == [1.0, 0.0]
        assert has_signal(g)
        assign_advantages([g], cfg.algorithm)
        assert g.samples[0].advantage > 0 > g.samples[1].advantage
    finally:
        scorer.close()


def test_unknown_verifier_fails_at_start_up():
    cfg = compose(["reward.verifier=no_such_verifier"])
    with pytest.raises(ValueError, match="no_such_verifier"):
        RewardScorer(cfg.reward.verifier, {}, 10.0, 1, cfg.algorithm)
