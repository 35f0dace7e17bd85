"""Start vLLM engine actors in their placement group and fan work out to them."""
from __future__ import annotations

from typing import Any

import ray

from rlvr.placement import bundle_strategy, gpus_available, make_placement
from rlvr.rollout.types import GroupRequest
from rlvr.rollout.vllm_engine import VLLMEngine


class EnginePool:
    def __init__(self, model_path: str, cfg: dict[str, Any], seed: int, dtype: str = "float32"):
        self.num_engines = int(cfg.get("num_engines", 1))
        use_gpu = gpus_available() > 0
        gpus = int(cfg.get("gpus_per_engine", 1)) if use_gpu else 0
        cpus = float(cfg.get("cpus_per_engine", 1.0))
        self.placement = make_placement(self.num_engines, cpus, gpus, name=f"rollout-{id(self)}")
        actor_cls = ray.remote(VLLMEngine)
        self.engines = [
            actor_cls.options(num_cpus=cpus, num_gpus=gpus, scheduling_strategy=bundle_strategy(self.placement, i)).remote(
                model_path, i, cfg, seed, dtype
            )
            for i in range(self.num_engines)
        ]
        self.infos = ray.get([e.info.remote() for e in self.engines])
        self.version = 0

    def dispatch(self, requests: list[GroupRequest], stop: list[str], out_queue: Any) -> list[ray.ObjectRef]:
        """Split requests round-robin over the engines; each streams groups into `out_queue`."""
        refs = []
        for i, engine in enumerate(self.engines):
            part = requests[i :: self.num_engines]
            if part:
                refs.append(engine.generate.remote(part, stop, out_queue))
        return refs

    def update_weights(self, state_ref: ray.ObjectRef, version: int) -> list[ray.ObjectRef]:
        """Queue the new weights on every engine (behind whatever generation is already queued)."""
        self.version = version
        return [e.update_weights.remote(state_ref, version) for e in self.engines]

    def score(self, sequences: list[tuple[list[int], int]]) -> list[list[float]]:
        return ray.get(self.engines[0].score.remote(sequences))

    def generate_text(self, prompts: list[list[int]], n: int, max_tokens: int, temperature: float,
                      stop: list[str], seed: int) -> list[list[str]]:
        parts = [(i, prompts[i :: self.num_engines]) for i in range(self.num_engines)]
        refs = [self.engines[i].generate_text.remote(p, n, max_tokens, temperature, stop, seed + i) for i, p in parts if p]
        results = ray.get(refs)
        out: list[list[str]] = [[] for _ in prompts]
        for (i, _), texts in zip([x for x in parts if x[1]], results):
            for k, t in enumerate(texts):
                out[i + k * self.num_engines] = t
        return out

    def shutdown(self) -> None:
        for e in self.engines:
            ray.kill(e)
        ray.util.remove_placement_group(self.placement)
