"""`rlvr train` with in-flight weight updates (rollout.inflight_updates=keep|resubmit): a few steps of the
default experiment on real parts, the log-prob gap after every sync and nothing dropped as stale."""
import json

import pytest

from tests.test_end_to_end import SHORT, STEP_KEYS, _rlvr, cache  # noqa: F401  (cache: the shared fixture)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


# keep with the collective transport and two steps of lookahead; resubmit with the object store
@pytest.mark.parametrize("mode,extra", [("keep", ["rollout.weight_sync=collective", "rollout.async_steps=2"]),
                                        ("resubmit", [])], ids=["keep-collective-async2", "resubmit"])
def test_train_with_inflight_updates(tmp_path, cache, mode, extra):  # noqa: F811
    run = tmp_path / "run"
    proc = _rlvr(["train", *SHORT, f"rollout.inflight_updates={mode}", *extra, "save_checkpoint=false",
                  "rollout_log=true", f"hydra.run.dir={run}"], cache)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in lines if "train/reward_mean" in m]
    assert [m["step"] for m in steps] == [1, 2, 3]
    for m in steps:
        for key in [*STEP_KEYS, "rollout/switched_frac"]:
            assert key in m, key
        assert m["rollout/logprob_gap"] < 1e-3  # every sync landed, in flight or not
        assert m["rollout/stale_dropped"] == 0  # staleness by the oldest version stays within async_steps
    from rlvr.rollout_log import read_rollouts

    for step in (1, 2, 3):
        for record in read_rollouts(run, step):  # a group's version is the oldest any of its samples used
            assert record["version"] == min(v for s in record["samples"] for _, v in s["versions"])
    print(mode, "switched_frac per step:", [m["rollout/switched_frac"] for m in steps])
