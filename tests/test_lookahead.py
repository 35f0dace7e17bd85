"""Lookahead (rollout.async_steps=k): the trainer's real `_dispatch_ahead` against a model of one engine's
call queue (calls run in the order they are issued, as on a serial Ray actor)."""
import pytest

from rlvr.config import RolloutConfig, TrainConfig
from rlvr.rollout.streaming import admissible
from rlvr.trainer import Trainer


def _schedule(steps: int, k: int) -> tuple[list[tuple[str, int]], dict[int, list[int]]]:
    """The engine's call log of a run (("gen", step) / ("sync", version)) and what each step dispatched."""
    trainer = Trainer.__new__(Trainer)
    trainer.cfg = TrainConfig(steps=steps, rollout=RolloutConfig(async_steps=k))
    trainer.expected = {}
    log: list[tuple[str, int]] = []
    dispatched: dict[int, list[int]] = {}

    def dispatch(step: int, count: int) -> None:
        log.append(("gen", step))
        trainer.expected[step] = trainer.expected.get(step, 0) + count
        dispatched.setdefault(current[0], []).append(step)

    trainer._dispatch = dispatch
    current = [-1]
    dispatch(0, 1)  # run() draws step 0 before the loop
    for step in range(steps):
        current[0] = step
        trainer._dispatch_ahead(step)
        trainer.expected.pop(step)  # _collect
        log.append(("sync", step + 1))  # after learning: version step + 1 goes to the engine
    return log, dispatched


def _versions(log: list[tuple[str, int]]) -> dict[int, int]:
    """The policy version each step's groups are sampled with: the last sync queued before the call."""
    version, out = 0, {}
    for kind, n in log:
        if kind == "sync":
            version = n
        else:
            out[n] = version
    return out


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_steps_ahead_and_never_older_than_allowed(k):
    steps = 7
    log, dispatched = _schedule(steps, k)
    # every step drawn exactly once, and at step 0 the first k steps after it
    assert sorted(n for kind, n in log if kind == "gen") == list(range(steps))
    assert dispatched[0] == list(range(1, k + 1))
    for step in range(1, steps - k):
        assert dispatched[step] == [step + k]  # one new step each, k ahead
    versions = _versions(log)
    for step in range(steps):
        assert admissible(step, versions[step], k), (step, versions[step])
    # the bound is reached: a step's groups are k versions old once the pipeline is full
    assert max(step - versions[step] for step in range(steps)) == k


def test_synchronous_draws_each_step_itself():
    log, dispatched = _schedule(4, 0)
    versions = _versions(log)
    assert all(versions[step] == step for step in range(4))
    assert dispatched == {-1: [0], 1: [1], 2: [2], 3: [3]}
