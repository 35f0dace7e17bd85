"""A group of FSDP2 learner workers placed by Ray, driven in lock-step from the trainer."""
from __future__ import annotations

from typing import Any

import ray

from rlvr.learner.worker import LearnerWorker
from rlvr.placement import bundle_strategy, gpus_available, make_placement


class LearnerGroup:
    def __init__(self, model_path: str, cfg: dict[str, Any], seed: int, dtype: str = "float32"):
        self.num_workers = int(cfg.get("num_workers", 1))
        use_gpu = gpus_available() > 0
        gpus = int(cfg.get("gpus_per_worker", 1)) if use_gpu else 0
        cpus = float(cfg.get("cpus_per_worker", 1.0))
        self.placement = make_placement(self.num_workers, cpus, gpus, name=f"learner-{id(self)}")
        actor_cls = ray.remote(LearnerWorker)
        self.workers = [
            actor_cls.options(num_cpus=cpus, num_gpus=gpus, scheduling_strategy=bundle_strategy(self.placement, i)).remote(
                i, self.num_workers, cfg, seed
            )
            for i in range(self.num_workers)
        ]
        master_addr, master_port = ray.get(self.workers[0].address.remote())
        sizes = ray.get([w.setup.remote(master_addr, master_port, model_path, dtype) for w in self.workers])
        self.num_parameters = int(sizes[0])
        self.model_path = model_path

    def train_step(self, shards: list[list[dict[str, Any]]], objective: str, ctx: dict[str, Any]) -> dict[str, float]:
        """One optimizer step; shards[i] are worker i's micro-batches (equal counts)."""
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
