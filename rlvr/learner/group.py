"""A group of FSDP2 learner workers placed by Ray, driven in lock-step from the trainer."""
from __future__ import annotations

from typing import Any

import ray

from rlvr.config import LearnerConfig
from rlvr.learner.objectives import Objective
from rlvr.learner.worker import LearnerWorker
from rlvr.placement import place_actors


class LearnerGroup:
    def __init__(self, model_path: str, cfg: LearnerConfig, seed: int, dtype: str = "float32", *,
                 total_steps: int, load_reference: bool = False):
        """`total_steps`: optimizer steps the lr schedule spans; `load_reference`: a frozen reference policy
        on every worker (only for a KL term)."""
        self.num_workers = cfg.num_workers
        self.placement, self.workers = place_actors(
            LearnerWorker, cfg.num_workers, cfg.cpus_per_worker, cfg.gpus_per_worker, f"learner-{id(self)}",
            lambda i: (i, cfg.num_workers, cfg, seed, total_steps, load_reference), resource=cfg.node_resource)
        master_addr, master_port = ray.get(self.workers[0].address.remote())
        sizes = ray.get([w.setup.remote(master_addr, master_port, model_path, dtype) for w in self.workers])
        self.num_parameters = int(sizes[0])

    def train_step(self, shards: list[list[dict[str, Any]]], objective: Objective, ctx: Any) -> dict[str, float]:
        """One optimizer step of `objective` (the function itself); shards[i] are worker i's micro-batches
        (equal counts); `ctx` is the objective's frozen step settings (PolicyStep, CausalLMStep)."""
        if len(shards) != self.num_workers:
            raise ValueError(f"{len(shards)} shards for {self.num_workers} workers")
        counts = {len(s) for s in shards}
        if len(counts) != 1:
            raise ValueError(f"workers must get equal micro-batch counts (collectives), got {sorted(counts)}")
        results = ray.get([w.train_step.remote(s, objective, ctx) for w, s in zip(self.workers, shards)])
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
        return ray.get([w.logprobs.remote(s, temperature) for w, s in zip(self.workers, shards)])

    def state_dict_ref(self) -> ray.ObjectRef:
        """An object ref to the full state dict (rank 0's), for the engines to fetch directly."""
        refs = [w.full_state_dict.remote() for w in self.workers]
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
        results = ray.get([w.save.remote(path, tokenizer_dir) for w in self.workers])
        return results[0]

    def shutdown(self) -> None:
        try:
            ray.get([w.shutdown.remote() for w in self.workers], timeout=60)
        finally:
            for w in self.workers:
                ray.kill(w)
            ray.util.remove_placement_group(self.placement)
