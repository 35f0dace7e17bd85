"""How the learner's new weights reach the engines: `rollout.weight_sync=object_store|collective`.

* `object_store`: learner rank 0's full state dict is put in Ray's object store; every engine pulls it
  (`VLLMEngine.update_weights`) and loads it through the worker extension. N engines, N pulls. The
  default: on one node it is a shared-memory copy, and it needs no rendezvous.
* `collective`: learner rank 0 broadcasts the weights, packed into byte buckets of `rollout.sync_bucket_mb`,
  to every engine worker over a gloo process group of its own. The group is a `ProcessGroupGloo` built
  directly on its own TCPStore (rank 0 = the learner, ranks 1.. = engine workers), never through
  `init_process_group`, so the learner's FSDP default group and vLLM's own groups are untouched (Ray's
  `ray.util.collective` builds a default group, which both processes already own). One broadcast for N
  engines; across nodes that is what wins.

A collective needs a rendezvous and a serial engine actor joins only when the generation queued before
it ends. So the sender waits in a thread on learner rank 0 (the learner keeps training meanwhile) until
every receiver has said "ready" in the store, then says "go" and broadcasts; only the transfer itself runs
under the gloo timeout `rollout.sync_timeout_s`, and a receiver that dies in it makes the sender fail
within that time with `WeightSyncError` (not a hang). Waiting for readiness is bounded by `READY_TIMEOUT_S`;
an engine that dies before it is ready is reported by the trainer's own checks of the engines' calls.

This module is torch-only below the transports (no learner or engine imports), so the learner worker
and the vLLM worker extension both use it.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import threading
import time
from typing import Any, Callable, Iterable

import torch

from rlvr.config import WEIGHT_SYNCS as TRANSPORTS

READY_TIMEOUT_S = 3600.0  # receivers join after the generation queued before them: allow a long one
STORE_PREFIX = "rlvr-wsync"


class WeightSyncError(RuntimeError):
    """A collective weight sync failed: a receiver died or stopped answering, or the sender did."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One entry of the state dict as the engines load it; `alias` >= 0: the same storage as that entry
    (a tied lm_head), sent once."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    alias: int = -1

    @property
    def nbytes(self) -> int:
        return int(torch.Size(self.shape).numel()) * torch.empty(0, dtype=getattr(torch, self.dtype)).element_size()


def describe(state: dict[str, torch.Tensor]) -> list[TensorSpec]:
    """The specs of a state dict in its order; a tensor sharing storage with an earlier one becomes an alias."""
    specs: list[TensorSpec] = []
    seen: dict[tuple[int, int, tuple[int, ...], torch.dtype], int] = {}
    for name, t in state.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        alias = seen.get(key, -1)
        if alias < 0:
            seen[key] = len(specs)
        specs.append(TensorSpec(name, tuple(t.shape), str(t.dtype).removeprefix("torch."), alias))
    return specs


def plan_buckets(specs: list[TensorSpec], bucket_bytes: int) -> list[list[int]]:
    """Indices of the non-alias specs in order, cut into buckets of at most `bucket_bytes` (a larger
    tensor gets a bucket of its own)."""
    buckets: list[list[int]] = []
    size = 0
    for i, spec in enumerate(specs):
        if spec.alias >= 0:
            continue
        if not buckets or (size + spec.nbytes > bucket_bytes and buckets[-1]):
            buckets.append([])
            size = 0
        buckets[-1].append(i)
        size += spec.nbytes
    return buckets


def pack(state: dict[str, torch.Tensor], specs: list[TensorSpec], bucket: list[int]) -> torch.Tensor:
    """One bucket as a fresh contiguous uint8 buffer (a copy: the learner may train on while it is sent)."""
    parts = [state[specs[i].name].detach().contiguous().reshape(-1).view(torch.uint8) for i in bucket]
    return torch.cat(parts) if len(parts) > 1 else parts[0].clone()


def unpack(buf: torch.Tensor, specs: list[TensorSpec], bucket: list[int]) -> list[tuple[str, torch.Tensor]]:
    out = []
    offset = 0
    for i in bucket:
        spec = specs[i]
        n = spec.nbytes
        out.append((spec.name, buf[offset : offset + n].view(getattr(torch, spec.dtype)).view(spec.shape)))
        offset += n
    return out


def with_aliases(received: dict[str, torch.Tensor], specs: list[TensorSpec]) -> list[tuple[str, torch.Tensor]]:
    """Every spec's (name, tensor) in the sender's order, aliases pointing at their source tensor."""
    return [(s.name, received[specs[s.alias].name] if s.alias >= 0 else received[s.name]) for s in specs]


def open_store(timeout_s: float) -> tuple[Any, str, int]:
    """The sender's TCPStore (the group's rendezvous) on a free port: (store, host, port)."""
    from rlvr.placement import node_address  # here: bench/gpu_sync.py uses this module where Ray is absent

    host = node_address()
    store = torch.distributed.TCPStore(host, 0, is_master=True, wait_for_workers=False,
                                       timeout=datetime.timedelta(seconds=timeout_s))
    return store, host, int(store.port)


class TransferGroup:
    """Rank 0 (the learner) and ranks 1.. (engine workers) in a process group of their own.

    gloo (CPU tensors) by default; `backend="nccl"` (CUDA tensors, one GPU per rank) is what bench/gpu_sync.py
    measures on a GPU host."""

    def __init__(self, host: str, port: int, rank: int, world: int, timeout_s: float, store: Any = None,
                 backend: str = "gloo"):
        timeout = datetime.timedelta(seconds=timeout_s)
        if store is None:
            store = torch.distributed.TCPStore(host, port, is_master=False, timeout=timeout)
        self.store = store
        self.rank, self.world, self.timeout_s = rank, world, timeout_s
        prefixed = torch.distributed.PrefixStore(STORE_PREFIX, store)
        if backend == "nccl":
            opts = torch.distributed.ProcessGroupNCCL.Options()
            opts._timeout = timeout
            self.pg = torch.distributed.ProcessGroupNCCL(prefixed, rank, world, opts)
        else:
            self.pg = torch.distributed.ProcessGroupGloo(prefixed, rank, world, timeout)

    def broadcast(self, buf: torch.Tensor) -> None:
        """Group-local root 0 (the backend's own call: torch.distributed.broadcast would want global ranks)."""
        opts = torch.distributed.BroadcastOptions()
        opts.rootRank = 0
        self.pg.broadcast([buf], opts).wait()

    def wait_keys(self, keys: list[str], timeout_s: float) -> None:
        self.store.wait(keys, datetime.timedelta(seconds=timeout_s))


def send(group: TransferGroup, buckets: list[torch.Tensor], version: int) -> dict[str, float]:
    """Rank 0: wait for every receiver of `version`, then broadcast the packed buckets."""
    waited = time.time()
    group.wait_keys([f"ready/{version}/{r}" for r in range(1, group.world)], READY_TIMEOUT_S)
    group.store.set(f"go/{version}", "1")
    started = time.time()
    for i, buf in enumerate([*buckets, None]):
        try:
            # A broadcast returns once the bytes are in the socket buffers; the closing barrier makes the
            # sender know every receiver took everything (or fail within the timeout).
            group.broadcast(buf) if buf is not None else group.pg.barrier().wait()
        except RuntimeError as exc:
            what = f"bucket {i + 1}/{len(buckets)}" if buf is not None else "the closing barrier"
            raise WeightSyncError(
                f"weight sync to version {version}: {what} to {group.world - 1} engine worker(s) failed after "
                f"{time.time() - started:.1f}s (rollout.sync_timeout_s={group.timeout_s:g}): a receiving engine "
                f"died or stopped answering ({exc})") from exc
    stats = {"wait_s": started - waited, "transfer_s": time.time() - started,
             "bytes": float(sum(b.numel() for b in buckets))}
    group.store.set(f"stats/{version}", json.dumps(stats))
    return stats


def receive(group: TransferGroup, specs: list[TensorSpec], plan: list[list[int]],
            version: int) -> tuple[list[tuple[str, torch.Tensor]], dict[str, float]]:
    """Ranks 1..: say ready, wait for "go", receive every bucket; the (name, tensor) list in the sender's order."""
    group.store.set(f"ready/{version}/{group.rank}", "1")
    group.wait_keys([f"go/{version}"], READY_TIMEOUT_S)
    received: dict[str, torch.Tensor] = {}
    for i, bucket in enumerate(plan):
        buf = torch.empty(sum(specs[j].nbytes for j in bucket), dtype=torch.uint8)
        try:
            group.broadcast(buf)
        except RuntimeError as exc:
            raise WeightSyncError(f"weight sync to version {version}: bucket {i + 1}/{len(plan)} from the learner "
                                  f"failed (rollout.sync_timeout_s={group.timeout_s:g}): {exc}") from exc
        received.update(unpack(buf, specs, bucket))
    try:
        group.pg.barrier().wait()
    except RuntimeError as exc:
        raise WeightSyncError(f"weight sync to version {version}: the closing barrier failed "
                              f"(rollout.sync_timeout_s={group.timeout_s:g}): {exc}") from exc
    sender = json.loads(group.store.get(f"stats/{version}"))
    return with_aliases(received, specs), sender


class Sender:
    """Learner rank 0's side: packs a version's buckets now, broadcasts them from a thread.

    One send in flight: the next `start` (or `wait`) joins the previous one and re-raises its error.
    """

    def __init__(self, group: TransferGroup, specs: list[TensorSpec], plan: list[list[int]]):
        self.group, self.specs, self.plan = group, specs, plan
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.last: dict[str, float] = {}

    def start(self, state: dict[str, torch.Tensor], version: int) -> float:
        """Pack `state` (a copy) and start broadcasting it as `version`; returns the bytes sent."""
        self.wait()
        buckets = [pack(state, self.specs, b) for b in self.plan]
        self.thread = threading.Thread(target=self._run, args=(buckets, version), name=f"rlvr-wsync-{version}",
                                       daemon=True)
        self.thread.start()
        return float(sum(b.numel() for b in buckets))

    def _run(self, buckets: list[torch.Tensor], version: int) -> None:
        try:
            self.last = send(self.group, buckets, version)
        except BaseException as exc:  # surfaced by the next start/wait
            self.error = exc

    def wait(self, timeout_s: float | None = None) -> dict[str, float]:
        """Join the send in flight (if any); raise its error."""
        if self.thread is not None:
            self.thread.join(timeout_s)
            if self.thread.is_alive():
                raise WeightSyncError(f"weight sync still waiting after {timeout_s}s")
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.last


# ---------------------------------------------------------------- the transports, as the trainer drives them
PendingSync = tuple[list[Any], dict[str, float]]  # (engine refs returning their stats, driver-side stats)


class ObjectStoreSync:
    """Today's path: rank 0's state dict through Ray's object store, pulled by every engine."""

    name = "object_store"

    def __init__(self, engines: Any, learner: Any, source: Callable[[], Any] | None = None):
        """`source`: makes the ref the engines load (default: the learner's full state dict; a LoRA run whose
        engines serve adapters passes the adapter's)."""
        self.engines, self.learner = engines, learner
        self.source = source or learner.state_dict_ref

    def sync(self, version: int) -> PendingSync:
        started = time.time()
        ref = self.source()
        gather_s = time.time() - started
        return self.engines.update_weights(ref, version), {"gather_s": gather_s}


class CollectiveSync:
    """Learner rank 0 broadcasts to every engine worker over a gloo group of their own (module doc)."""

    name = "collective"

    def __init__(self, engines: Any, learner: Any, bucket_mb: float, timeout_s: float):
        import ray

        self.engines, self.learner = engines, learner
        host, port = learner.open_weight_sync(timeout_s)
        world = 1 + engines.num_workers()
        specs, plan = learner.weight_sync_plan(int(bucket_mb * 2**20))
        # every member builds the group at once (the constructor is the rendezvous)
        joins = engines.join_sync_group(host, port, world, timeout_s, specs, plan)
        ray.get(joins + [learner.connect_weight_sync(world, timeout_s, specs, plan)])
        self.world = world

    def sync(self, version: int) -> PendingSync:
        refs = self.engines.receive_weights(version, self.learner.state_dict_ref)  # queued behind generation
        started = time.time()
        sent = self.learner.send_weights(version)  # the gather; the broadcast goes on in rank 0's thread
        return refs, {"gather_s": time.time() - started, "bytes": sent}


def make_weight_sync(cfg: Any, engines: Any, learner: Any,
                     source: Callable[[], Any] | None = None) -> ObjectStoreSync | CollectiveSync:
    """The transport `cfg.weight_sync` (a RolloutConfig) names; `source` as in ObjectStoreSync."""
    if cfg.weight_sync == "collective" and getattr(engines, "serves_lora", False):
        raise ValueError("rollout.weight_sync=collective broadcasts full weights; engines serving LoRA adapters "
                         "(model.lora.sync) take the adapter through rollout.weight_sync=object_store")
    if cfg.weight_sync == "collective":
        return CollectiveSync(engines, learner, cfg.sync_bucket_mb, cfg.sync_timeout_s)
    if cfg.weight_sync == "object_store":
        return ObjectStoreSync(engines, learner, source)
    raise ValueError(f"rollout.weight_sync={cfg.weight_sync!r}: expected one of {', '.join(TRANSPORTS)}")


def sync_metrics(engine_stats: Iterable[dict[str, Any]], driver: dict[str, float]) -> dict[str, float]:
    """One sync's metrics from the engines' returned stats and the driver's gather time.

    transfer: the slowest engine's receive (object store: its pull; collective: rank 0's broadcast);
    load: the slowest engine's `reload_weights`; bytes: one copy of the weights.
    """
    stats = list(engine_stats)
    out = {"time/sync_gather_s": driver.get("gather_s", 0.0)}
    if stats:
        out["time/sync_transfer_s"] = max(s.get("transfer_s", 0.0) for s in stats)
        out["time/sync_load_s"] = max(s.get("load_s", 0.0) for s in stats)
        out["sync/bytes"] = max(s.get("bytes", driver.get("bytes", 0.0)) for s in stats)
    return out


WeightsSource = Callable[[], Any]  # a fresh ref to the learner's current full state dict
