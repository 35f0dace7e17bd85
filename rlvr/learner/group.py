"""A group of FSDP2 learner workers placed by Ray, driven in lock-step from the trainer."""
from __future__ import annotations

import os
import re
import uuid
from typing import Any

import ray

from rlvr.config import LearnerConfig, LoraConfig
from rlvr.learner.objectives import Objective
from rlvr.learner.worker import LearnerWorker
from rlvr.placement import place_actors


class WorkerDied(RuntimeError):
    """A learner worker's process died (killed, out of memory); the run cannot go on without it."""

    def __init__(self, rank: int, cause: BaseException):
        pid = re.search(r"pid: (\d+)", str(cause))
        self.rank = rank
        self.pid = int(pid.group(1)) if pid else None
        super().__init__(f"learner worker rank {rank}" + (f" (pid {self.pid})" if self.pid else "") + " died")


class LearnerGroup:
    def __init__(self, model_path: str, cfg: LearnerConfig, seed: int, dtype: str = "float32", *,
                 total_steps: int, load_reference: bool = False, lora: LoraConfig | None = None):
        """`total_steps`: optimizer steps the lr schedule spans; `load_reference`: reference log-probs of the
        starting policy on every worker (only for a KL term); `lora`: train LoRA adapters when its rank > 0."""
        self.num_workers = cfg.num_workers
        self.dead = False  # a worker died: shutdown kills the rest without asking them first
        self.placement, self.workers = place_actors(
            LearnerWorker, cfg.num_workers, cfg.cpus_per_worker, cfg.gpus_per_worker, f"learner-{id(self)}",
            lambda i: (i, cfg.num_workers, cfg, seed, total_steps, load_reference, lora), resource=cfg.node_resource)
        master_addr, master_port = ray.get(self.workers[0].address.remote())
        sizes = ray.get([w.setup.remote(master_addr, master_port, model_path, dtype) for w in self.workers])
        self.num_parameters = int(sizes[0])
        self.lora = lora if lora is not None and lora.rank > 0 else None

    def train_step(self, shards: list[list[dict[str, Any]]], objective: Objective, ctx: Any) -> dict[str, float]:
        """One optimizer step of `objective` (the function itself); shards[i] are worker i's micro-batches
        (equal counts); `ctx` is the objective's frozen step settings (PolicyStep, CausalLMStep)."""
        if len(shards) != self.num_workers:
            raise ValueError(f"{len(shards)} shards for {self.num_workers} workers")
        counts = {len(s) for s in shards}
        if len(counts) != 1:
            raise ValueError(f"workers must get equal micro-batch counts (collectives), got {sorted(counts)}")
        results = self._gather([w.train_step.remote(s, objective, ctx) for w, s in zip(self.workers, shards)])
        total: dict[str, float] = {}
        for r in results:
            for k, v in r.items():
                if k in ("lr", "grad_norm"):
                    total[k] = v  # the same on every worker
                elif k == "seconds":
                    total[k] = max(total.get(k, 0.0), v)
                else:
                    total[k] = total.get(k, 0.0) + v
        return total

    def logprobs(self, shards: list[list[dict[str, Any]]], temperature: float = 1.0) -> list[list[Any]]:
        return self._gather([w.logprobs.remote(s, temperature) for w, s in zip(self.workers, shards)])

    def state_dict_ref(self) -> ray.ObjectRef:
        """An object ref to the full state dict (rank 0's), for the engines to fetch directly."""
        refs = [w.full_state_dict.remote() for w in self.workers]
        ray.wait(refs, num_returns=len(refs))
        return refs[0]

    def adapter_ref(self) -> ray.ObjectRef:
        """LoRA only: an object ref to the adapter alone (rank 0's {"tensors", "config"})."""
        refs = [w.adapter_state.remote() for w in self.workers]
        ray.wait(refs, num_returns=len(refs))
        return refs[0]

    # ------------------------------------------------- collective weight sync (rlvr.rollout.weight_sync)
    def open_weight_sync(self, timeout_s: float) -> tuple[str, int]:
        """Rank 0 opens the weight-sync group's rendezvous; its (host, port)."""
        return ray.get(self.workers[0].open_weight_sync.remote(timeout_s))

    def weight_sync_plan(self, bucket_bytes: int) -> tuple[list[Any], list[list[int]]]:
        """(specs, buckets) of what rank 0 broadcasts: one gather now, fixed for the run."""
        from rlvr.rollout.weight_sync import plan_buckets

        specs = ray.get([w.weight_specs.remote() for w in self.workers])[0]
        return specs, plan_buckets(specs, bucket_bytes)

    def connect_weight_sync(self, world: int, timeout_s: float, specs: list[Any],
                            plan: list[list[int]]) -> ray.ObjectRef:
        """A ref that resolves once every engine worker has joined rank 0's group."""
        return self.workers[0].connect_weight_sync.remote(world, timeout_s, specs, plan)

    def send_weights(self, version: int) -> float:
        """Gather on all workers; rank 0 broadcasts in the background. Returns once gathered and packed."""
        return float(ray.get([w.send_weights.remote(version) for w in self.workers])[0])

    def wait_weight_sync(self, timeout_s: float | None = None) -> dict[str, float]:
        return ray.get(self.workers[0].wait_weight_sync.remote(timeout_s))

    def save(self, path: str, tokenizer_dir: str | None = None) -> str:
        results = self._gather([w.save.remote(path, tokenizer_dir) for w in self.workers])
        return results[0]

    def save_state(self, path: str, node_local_dir: str = "") -> list[str]:
        """Every worker's model and optimizer shards, step count and RNG into directory `path` (a collective).

        With `node_local_dir`, each worker writes under that directory on its own node and the driver collects
        the files into `path` (for nodes that share no filesystem with the driver). Returns the directories the
        workers wrote (`path` itself without `node_local_dir`)."""
        if not node_local_dir:
            self._gather([w.save_state.remote(path) for w in self.workers])
            return [path]
        tag = f"save-{os.path.basename(os.path.dirname(path.rstrip('/')))}-{uuid.uuid4().hex[:8]}"
        parts = self._gather([w.save_state_on_node.remote(node_local_dir, tag) for w in self.workers])
        os.makedirs(path, exist_ok=True)
        for part in parts:  # each rank's shard and state files; DCP's .metadata comes from rank 0
            for name, data in part["files"].items():
                target = os.path.join(path, name)
                if os.path.exists(target):
                    raise RuntimeError(f"checkpoint {path}: two learner ranks both wrote {name}")
                with open(target, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
        return [part["dir"] for part in parts]

    def load_state(self, path: str, node_local_dir: str = "") -> int:
        """Load `save_state`'s directory (saved by any worker count); returns the optimizer-step count. With
        `node_local_dir`, the driver reads the files and ships them to each worker's node (one object-store copy)."""
        if not node_local_dir:
            return int(self._gather([w.load_state.remote(path) for w in self.workers])[0])
        files = {}
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), "rb") as f:
                files[name] = f.read()
        ref = ray.put(files)
        tag = f"load-{uuid.uuid4().hex[:8]}"
        return int(self._gather([w.load_state_on_node.remote(node_local_dir, tag, ref) for w in self.workers])[0])

    def _gather(self, refs: list[ray.ObjectRef]) -> list[Any]:
        """`ray.get` of one call per worker (refs[i] on rank i), failing fast when a worker dies: its peers
        may wait for it in a collective and never return, so the first death ends the wait, as WorkerDied."""
        pending, values = list(refs), {}
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                values[done[0]] = ray.get(done[0])
            except ray.exceptions.ActorDiedError as exc:
                self.dead = True
                raise WorkerDied(refs.index(done[0]), exc) from exc
            except Exception:
                # a peer's collective failing because a worker died: report the death, not the symptom
                self._raise_death(refs, timeout_s=10.0)
                raise
        return [values[r] for r in refs]

    def _raise_death(self, refs: list[ray.ObjectRef], timeout_s: float) -> None:
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        for ref in ready:
            try:
                ray.get(ref)
            except ray.exceptions.ActorDiedError as exc:
                self.dead = True
                raise WorkerDied(refs.index(ref), exc) from exc
            except Exception:
                continue

    def shutdown(self) -> None:
        try:
            if not self.dead:  # survivors of a death may sit in a collective that never ends
                ray.get([w.shutdown.remote() for w in self.workers], timeout=60)
        finally:
            for w in self.workers:
                ray.kill(w)
            ray.util.remove_placement_group(self.placement)
