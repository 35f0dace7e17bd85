"""`rlvr train` with in-flight weight updates: a few steps on real parts (threaded vLLM engine, FSDP learner,
the collective transport, two steps of lookahead), the log-prob gap after every sync, nothing dropped as
stale, and each group's version the oldest any of its tokens used. The switch itself, and `resubmit`'s
token-by-token agreement with the new weights, are proven at the engine level in tests/rollout/test_inflight.py."""
import json

import pytest

from tests.test_end_to_end import STEP_KEYS, _rlvr
from tests.tiny import make_tiny_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

# A random-init tiny model runs every response to the cap, so generation of the next step is still going
# when the weights arrive more often than with the trained base.
TINY = ["steps=3", "rollout.prompts_per_step=4", "rollout.group_size=4", "rollout.max_tokens=48",
        "data.eval_size=4", "eval.max_tokens=8", "data.train_size=50", "progress=false", "save_checkpoint=false"]


def test_train_with_inflight_keep_collective_and_lookahead(tmp_path):
    model = make_tiny_checkpoint(tmp_path / "tiny")
    run = tmp_path / "run"
    proc = _rlvr(["train", f"model.path={model}", *TINY, "rollout.inflight_updates=keep",
                  "rollout.weight_sync=collective", "rollout.async_steps=2", "rollout_log=true",
                  f"hydra.run.dir={run}"], tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in lines if "train/reward_mean" in m]
    assert [m["step"] for m in steps] == [1, 2, 3]
    for m in steps:
        for key in [*STEP_KEYS, "rollout/switched_frac"]:
            assert key in m, key
        assert m["rollout/logprob_gap"] < 1e-3  # every sync landed, in flight or not
        assert m["rollout/stale_dropped"] == 0  # staleness by the oldest version stays within async_steps
        assert m["rollout/version_lag_max"] <= 2
    from rlvr.rollout_log import read_rollouts

    for step in (1, 2, 3):
        for record in read_rollouts(run, step):  # a group's version is the oldest any of its samples used
            assert record["version"] == min(v for s in record["samples"] for _, v in s["versions"])
    print("switched_frac per step:", [m["rollout/switched_frac"] for m in steps])
