"""The collective weight-sync transport without vLLM or Ray: bucketing, and a real gloo group of its own
across processes (round trip, isolation from a default group, a receiver that dies or hangs)."""
import multiprocessing as mp
import os
import time

import pytest
import torch

from rlvr.rollout.weight_sync import (Sender, TransferGroup, WeightSyncError, describe, open_store, pack,
                                      plan_buckets, receive, unpack, with_aliases)


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(50, 8, generator=g)
    return {
        "model.embed_tokens.weight": emb,
        "model.norm.weight": torch.randn(8, generator=g).to(torch.bfloat16),
        "model.layers.0.mlp.weight": torch.randn(16, 8, generator=g),
        "steps": torch.arange(5, dtype=torch.int64),
        "lm_head.weight": emb,  # tied: the same tensor
    }


def test_buckets_round_trip_mixed_dtypes_and_a_tied_alias():
    state = _state()
    specs = describe(state)
    assert [s.alias for s in specs] == [-1, -1, -1, -1, 0]
    largest = max(s.nbytes for s in specs)
    plan = plan_buckets(specs, bucket_bytes=largest // 2)  # smaller than the largest tensor
    assert sorted(i for b in plan for i in b) == [0, 1, 2, 3]  # every tensor once, the alias never
    assert all(len(b) == 1 for b in plan if sum(specs[i].nbytes for i in b) > largest // 2)
    received = {}
    for b in plan:
        buf = pack(state, specs, b).clone()
        assert buf.dtype == torch.uint8 and buf.numel() == sum(specs[i].nbytes for i in b)
        received.update(unpack(buf, specs, b))
    out = with_aliases(received, specs)
    assert [n for n, _ in out] == list(state)
    for name, t in out:
        assert t.dtype == state[name].dtype and torch.equal(t, state[name]), name
    # packing copies: a later in-place update of the learner's tensor does not change a packed bucket
    buf = pack(state, specs, plan[0])
    before = buf.clone()
    state["model.embed_tokens.weight"].add_(1.0)
    assert torch.equal(buf, before)


def _default_group(rank, fsdp_port):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(fsdp_port)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)


def _sender(fsdp_port, port_q, result_q, world, timeout_s, mode):
    # the FSDP stand-in: a default group with receiver 1, before and after the transfer group exists
    _default_group(0, fsdp_port)
    store, host, port = open_store(timeout_s)
    for _ in range(world - 1):
        port_q.put((host, port))
    state = _state()
    specs = describe(state)
    plan = plan_buckets(specs, 256)
    result_q.put(("plan", (specs, plan)))
    sender = Sender(TransferGroup(host, port, 0, world, timeout_s, store=store), specs, plan)
    x = torch.ones(1)
    torch.distributed.all_reduce(x)
    started = time.time()
    try:
        sender.start(state, version=1)
        stats = sender.wait()
        result_q.put(("sent", stats))
    except WeightSyncError as exc:
        result_q.put(("error", (str(exc), time.time() - started)))
        return
    torch.distributed.all_reduce(x)
    result_q.put(("allreduce", float(x)))


def _receiver(rank, fsdp_port, port_q, plan_q, result_q, world, timeout_s, mode):
    if rank == 1:
        _default_group(1, fsdp_port)
    host, port = port_q.get()
    specs, plan = plan_q.get()
    group = TransferGroup(host, port, rank, world, timeout_s)
    if rank == 1:
        x = torch.ones(1)
        torch.distributed.all_reduce(x)
    if mode != "ok" and rank == world - 1:
        group.store.set(f"ready/1/{rank}", "1")
        group.wait_keys(["go/1"], 60)
        buf = torch.empty(sum(specs[j].nbytes for j in plan[0]), dtype=torch.uint8)
        group.broadcast(buf)  # the first bucket, then die or stop answering
        if mode == "die":
            os._exit(0)
        time.sleep(60)
        return
    items, sender = receive(group, specs, plan, version=1)
    result_q.put(("received", rank, [(n, t.clone()) for n, t in items], sender))
    if rank == 1:
        torch.distributed.all_reduce(x)


def _run(mode: str, world: int = 3, timeout_s: float = 30.0):
    ctx = mp.get_context("spawn")
    port_q, plan_q, result_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        fsdp_port = s.getsockname()[1]
    procs = [ctx.Process(target=_sender, args=(fsdp_port, port_q, result_q, world, timeout_s, mode))]
    procs += [ctx.Process(target=_receiver, args=(r, fsdp_port, port_q, plan_q, result_q, world, timeout_s, mode))
              for r in range(1, world)]
    for p in procs:
        p.start()
    kind, payload = result_q.get(timeout=90)
    assert kind == "plan"
    for _ in range(world - 1):
        plan_q.put(payload)
    return procs, result_q


def _finish(procs):
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()


@pytest.mark.slow  # spawns torch processes (seconds of imports each)
def test_broadcast_to_two_receivers_beside_a_default_group():
    procs, result_q = _run("ok")
    try:
        results = [result_q.get(timeout=60) for _ in range(4)]
    finally:
        _finish(procs)
    state = _state()
    by_kind = {}
    for r in results:
        by_kind.setdefault(r[0], []).append(r[1:])
    assert by_kind["sent"][0][0]["bytes"] == sum(s.nbytes for s in describe(state) if s.alias < 0)
    assert by_kind["allreduce"] == [(4.0,)]  # the default group still works after the transfer (2, then 4)
    assert sorted(r[0] for r in by_kind["received"]) == [1, 2]
    for _, items, sender in by_kind["received"]:
        assert [n for n, _ in items] == list(state)
        for name, t in items:
            assert torch.equal(t, state[name]), name
        assert sender["bytes"] == by_kind["sent"][0][0]["bytes"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["die", "hang"])
def test_a_receiver_that_dies_or_hangs_fails_the_sender_within_the_timeout(mode):
    timeout_s = 4.0
    procs, result_q = _run(mode, world=2, timeout_s=timeout_s)
    try:
        kind, payload = result_q.get(timeout=60)
    finally:
        for p in procs[1:]:
            p.kill()
        _finish(procs)
    assert kind == "error", (kind, payload)
    message, seconds = payload
    assert "receiving engine died or stopped answering" in message and "sync_timeout_s=4" in message
    assert seconds < timeout_s + 3
