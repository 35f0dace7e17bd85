"""LearnerWorker.save_state / load_state (torch.distributed.checkpoint over gloo): a reload continues
bitwise with the same worker count, and to float tolerance with another one (issue 11).

The workers run as plain processes (torch.multiprocessing) rather than Ray actors: the same class and
collectives, without a Ray cluster's start-up; tests/test_resume.py covers the Ray-placed LearnerGroup.
"""
from __future__ import annotations

import random

import pytest
import torch

pytestmark = pytest.mark.slow

STEPS = 6  # the lr schedule's length: warm-up then linear decay, so a lost step count changes the lr


def _rows(seed: int, n: int = 4, length: int = 24) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ids = [rng.randrange(1, 300) for _ in range(length)]
        out.append({"input_ids": ids, "labels": [-100] + ids[1:], "position_ids": list(range(length))})
    return out


def _worker(rank: int, world: int, port: int, model: str, state: str, phase: str, out: str) -> None:
    from rlvr.config import LearnerConfig
    from rlvr.learner.causal_lm import label_tokens, micro_batches
    from rlvr.learner.objectives import CausalLMStep, causal_lm_objective
    from rlvr.learner.worker import LearnerWorker

    cfg = LearnerConfig(num_workers=world, lr=1e-2, warmup_steps=2, lr_schedule="linear", micro_batch_size=2)
    w = LearnerWorker(rank, world, cfg, seed=0, total_steps=STEPS)
    w.setup("127.0.0.1", port, model)

    def step(rows):
        shards = micro_batches(rows, world, 2)
        w.train_step(shards[rank], causal_lm_objective, CausalLMStep(global_tokens=label_tokens(shards)))

    if phase == "train":
        step(_rows(0))
        step(_rows(1))
        w.save_state(state)
    else:
        assert w.load_state(state) == 2
    step(_rows(2))
    sd = w.full_state_dict()
    if rank == 0:
        torch.save(sd, out)
    w.shutdown()


def _run(world: int, *args) -> None:
    import torch.multiprocessing as mp

    from rlvr.learner.worker import free_port

    mp.spawn(_worker, args=(world, free_port(), *args), nprocs=world, join=True)


def test_learner_state_reloads_bitwise_and_reshards_to_another_worker_count(tmp_path):
    from tests.tiny import make_tiny_checkpoint

    model = make_tiny_checkpoint(tmp_path / "model")
    state = str(tmp_path / "state")
    _run(2, model, state, "train", str(tmp_path / "want.pt"))
    want = torch.load(tmp_path / "want.pt")
    for world in (2, 1):
        _run(world, model, state, "resume", str(tmp_path / f"got{world}.pt"))
        got = torch.load(tmp_path / f"got{world}.pt")
        assert set(got) == set(want)
        if world == 2:
            assert all(got[k].equal(want[k]) for k in want), "same worker count: not bitwise"
        else:
            for k in want:
                torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6)
