"""The metrics line of an RL step is a pure function of the step's batch and the learner's summed stats."""
import pytest

from rlvr.algorithms.config import AlgorithmConfig
from rlvr.metrics import step_metrics
from rlvr.rewards import ScoredGroup, make_batch
from rlvr.types import Group, GroupRequest, Sample


def _scored(pid, lengths, rewards, correct, finish, max_tokens=8, penalty=None):
    req = GroupRequest(prompt_id=pid, prompt="q", prompt_ids=[1], ground_truth="1", verifier="math", step=0,
                       n=len(lengths), max_tokens=max_tokens)
    samples = [Sample(pid, [1], [2] * n, "", [-0.1] * n, f) for n, f in zip(lengths, finish)]
    return ScoredGroup(Group(req, samples, version=0), rewards, correct, [None] * len(lengths),
                       penalty or [0.0] * len(lengths))


def test_step_metrics_by_hand():
    a = _scored("a", [2, 4], [1.0, 0.0], [True, False], ["stop", "length"], max_tokens=4)
    b = _scored("b", [3, 3], [0.0, 0.0], [False, False], ["stop", "stop"], max_tokens=6, penalty=[0.0, 0.5])
    batch = make_batch([a, b], [a], AlgorithmConfig())
    learner = {"tokens": 6.0, "clip_low": 1.0, "clip_high": 2.0, "tis_weight": 5.4, "tis_clipped": 0.0,
               "entropy": 3.0, "approx_kl_old": 0.6, "grad_norm": 0.7, "lr": 1e-4, "input_tokens": 12.0, "kl_ref": 1.2}
    line = step_metrics(3, batch, learner, {"tokens": 12.0, "seconds": 2.0, "tries": 1}, learn_s=4.0, sync_s=0.5,
                        stale_dropped=0, version=3, stage=(0, 4), next_stage=(1, 6), kl_ref=True, repetition=True)
    expected = {
        "step": 3, "train/reward_mean": 0.25, "train/accuracy": 0.25, "train/zero_std_frac": 0.5, "train/groups": 1,
        "train/verifier_errors": 0, "rollout/tokens_per_s": 6.0, "rollout/truncation_rate": 0.25,
        "rollout/stale_dropped": 0, "rollout/sampling_tries": 1, "learner/tokens_per_s": 3.0,
        "learner/samples_per_s": 0.5, "loss/clip_frac": 0.5, "loss/clip_low_frac": 1 / 6, "loss/clip_high_frac": 1 / 3,
        "loss/tis_weight_mean": 0.9, "loss/tis_clipped_frac": 0.0, "loss/entropy": 0.5, "loss/approx_kl": 0.1,
        "loss/grad_norm": 0.7, "learner/lr": 1e-4, "response/length_mean": 3.0, "response/length_max": 4,
        "response/length_min": 2, "algo/stage": 0, "algo/max_tokens": 4, "rollout/max_tokens": 6,
        "time/sync_s": 0.5, "policy/version": 3, "loss/kl_ref": 0.2, "reward/repetition_penalty_mean": 0.125,
        "algo/stage_changed_to": 1, "algo/next_max_tokens": 6,
    }
    assert list(line) == list(expected)
    for key, value in expected.items():
        assert line[key] == pytest.approx(value), key


def test_step_metrics_without_a_learner_step():
    # every group filtered out: no train_step ran, so the loss figures fall back to their neutral values
    a = _scored("a", [2, 2], [0.0, 0.0], [False, False], ["stop", "stop"])
    line = step_metrics(1, make_batch([a], [], AlgorithmConfig()), {}, {"tokens": 4.0, "seconds": 1.0, "tries": 4},
                        learn_s=0.0, sync_s=0.1, stale_dropped=2, version=1, stage=(0, 8), next_stage=None,
                        kl_ref=False, repetition=False)
    assert line["train/groups"] == 0 and line["loss/tis_weight_mean"] == 1.0 and line["loss/clip_frac"] == 0.0
    assert line["train/zero_std_frac"] == 1.0 and line["rollout/stale_dropped"] == 2
    assert "loss/kl_ref" not in line and "algo/stage_changed_to" not in line
    assert "reward/repetition_penalty_mean" not in line
