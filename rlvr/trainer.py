"""The RL loop: prompts -> engines -> verifiers -> advantages -> FSDP learner -> new weights.

Step t trains on groups drawn for step t. Generation for step t+1 is dispatched before step t
trains, so with async_steps=1 it overlaps training and is sampled one policy version behind;
`GroupStream` enforces the staleness bound explicitly. After each optimizer step the learner's
full state dict goes to the engines (Ray object store), and a probe re-scores a few sequences on
both sides to log `rollout/logprob_gap`.
"""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray.util.queue import Queue

from rlvr.algorithms.length_schedule import LengthSchedule
from rlvr.algorithms.sampling import PromptRetirement
from rlvr.config import TrainConfig
from rlvr.data.prompts import PromptSet, load_prompt_sets
from rlvr.evaluation import evaluate
from rlvr.learner.batching import balance, count_loss_tokens, policy_shards, policy_tensors, zero_weight
from rlvr.learner.group import LearnerGroup
from rlvr.metrics import MetricsLogger
from rlvr.placement import init_ray
from rlvr.rewards import RewardScorer, assign_advantages, has_signal
from rlvr.rollout.engines import EnginePool
from rlvr.rollout.streaming import GroupStream
from rlvr.rollout.types import Group, GroupRequest, Sample

log = logging.getLogger(__name__)


def cpus_needed(cfg: TrainConfig) -> float:
    """Logical CPUs the placement groups reserve (+1 for the driver's own tasks)."""
    return (cfg.rollout.num_engines * cfg.rollout.cpus_per_engine
            + cfg.learner.num_workers * cfg.learner.cpus_per_worker + 1)


class PromptSampler:
    """Shuffled passes over the training prompts, skipping retired ones."""

    def __init__(self, prompts: PromptSet, seed: int, retirement: PromptRetirement | None):
        self.rows = prompts.rows
        self.rng = random.Random(seed)
        self.retirement = retirement
        self.order: list[int] = []
        self.epoch = -1

    def take(self, k: int) -> list[Any]:
        out = []
        guard = 0
        while len(out) < k:
            if not self.order:
                self.order = list(range(len(self.rows)))
                self.rng.shuffle(self.order)
                self.epoch += 1
                if self.retirement is not None and self.epoch > 0:
                    self.retirement.new_epoch()
            row = self.rows[self.order.pop()]
            guard += 1
            if self.retirement is not None and self.retirement.is_retired(row.id) and guard < 10 * len(self.rows):
                continue
            out.append(row)
        return out


def _requests(rows: list[Any], step: int, n: int, max_tokens: int, seed: int, offset: int = 0) -> list[GroupRequest]:
    return [
        GroupRequest(prompt_id=str(r.id), prompt=r.prompt, prompt_ids=list(r.prompt_ids), ground_truth=r.ground_truth,
                     verifier=r.verifier, step=step, n=n, max_tokens=max_tokens,
                     seed=seed * 1_000_003 + step * 10_007 + offset + i, metadata=dict(r.metadata))
        for i, r in enumerate(rows)
    ]


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, model_path: str):
        self.cfg = cfg
        self.run_dir = run_dir
        self.model_path = model_path
        algo = cfg.algorithm
        self.schedule = LengthSchedule(algo.length_stages, cfg.rollout.max_tokens, algo.eps_low, algo.eps_high)
        self.retirement = PromptRetirement(threshold=algo.retire_pass_rate) if algo.retire_solved else None

        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.train_set, self.eval_set = load_prompt_sets(cfg.data, self.tokenizer)
        self.stop = list(dict.fromkeys(list(self.train_set.stop) + list(cfg.rollout.stop)))
        self.sampler = PromptSampler(self.train_set, cfg.seed, self.retirement)

        init_ray(cfg.ray.address, cfg.ray.num_cpus, cpus_needed(cfg))
        rollout_cfg = dict(vars(cfg.rollout))
        learner_cfg = dict(vars(cfg.learner))
        learner_cfg["total_steps"] = cfg.steps
        learner_cfg["load_reference"] = algo.kl_coef > 0
        self.engines = EnginePool(model_path, rollout_cfg, cfg.seed, cfg.model.dtype)
        self.learner = LearnerGroup(model_path, learner_cfg, cfg.seed, cfg.model.dtype)
        self.scorer = RewardScorer(cfg.reward.verifier, dict(cfg.reward.options), cfg.reward.timeout_s,
                                   cfg.reward.num_workers, algo, cfg.reward.import_modules)
        self.queue = Queue()
        self.stream = GroupStream(self.queue, cfg.rollout.async_steps)
        self.metrics = MetricsLogger(run_dir)
        self.version = 0
        self.gen_refs: dict[int, list[ray.ObjectRef]] = {}
        self.expected: dict[int, int] = {}

    # ------------------------------------------------------------ dispatch
    def _dispatch(self, step: int, count: int, offset: int = 0) -> None:
        rows = self.sampler.take(count)
        reqs = _requests(rows, step, self.cfg.rollout.group_size, self.schedule.max_tokens, self.cfg.seed, offset)
        self.gen_refs.setdefault(step, []).extend(self.engines.dispatch(reqs, self.stop, self.queue))
        self.expected[step] = self.expected.get(step, 0) + len(reqs)

    # ------------------------------------------------------------ one step
    def _collect(self, step: int) -> tuple[list[Group], list[Group], dict[str, float]]:
        """Groups for `step`: (all scored, kept for training), with active sampling if on."""
        algo = self.cfg.algorithm
        quota = self.cfg.rollout.prompts_per_step
        scored: list[Group] = []
        kept: list[Group] = []
        tries = 0
        while True:
            groups = self.stream.groups_for(step, self.expected.pop(step, 0),
                                            on_group=lambda g: self.scorer.score_group(g, self.schedule.max_tokens),
                                            check=self._check_engines)
            scored.extend(groups)
            for g in groups:
                if not algo.filter_zero_std or has_signal(g):
                    kept.append(g)
            tries += 1
            if not algo.active_sampling or len(kept) >= quota or tries >= algo.max_sampling_tries:
                break
            self._dispatch(step, quota - len(kept), offset=tries * 7919)
        if algo.active_sampling:
            kept = kept[:quota]
        gen = ray.get(self.gen_refs.pop(step, []))
        stats = {"tokens": sum(g["tokens"] for g in gen), "seconds": sum(g["seconds"] for g in gen), "tries": tries}
        return scored, kept, stats

    def _check_engines(self) -> None:
        """Raise the engine's own error if a generation call failed (instead of waiting forever)."""
        refs = [r for rs in self.gen_refs.values() for r in rs]
        if refs:
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in done:
                ray.get(ref)  # re-raises the actor's exception

    def _learn(self, kept: list[Group]) -> dict[str, float]:
        cfg, algo = self.cfg, self.cfg.algorithm
        assign_advantages(kept, algo)
        samples = [s for g in kept for s in g.samples]
        in_loss = {id(s): not (algo.overlong == "mask" and s.truncated) for s in samples}
        k = max(1, min(cfg.learner.mini_batches, len(samples)))
        chunks = [samples[i::k] for i in range(k)]
        shard_sets = [policy_shards(c, self.learner.num_workers, cfg.learner.micro_batch_size, self.pad_id, in_loss)
                      for c in chunks]
        if k > 1:
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
            ctx = {"algorithm": algo, "eps_low": self.schedule.eps_low, "eps_high": self.schedule.eps_high,
                   "global_tokens": tokens, "global_seqs": seqs, "temperature": cfg.rollout.temperature,
                   "agg_constant": algo.loss_agg_constant or float(self.schedule.max_tokens), "total_steps": cfg.steps * k}
            out = self.learner.train_step(shards, "policy", ctx)
            for key, v in out.items():
                totals[key] = totals.get(key, 0.0) + v if key not in ("lr", "grad_norm") else v
        return totals

    def _sync_and_probe(self, probe: list[Sample]) -> tuple[float, ray.ObjectRef | None, list[list[float]]]:
        """Push weights to the engines; return (sync seconds, engine-score ref, learner log-probs)."""
        started = time.time()
        if self.cfg.rollout.skip_weight_sync:
            refs: list[ray.ObjectRef] = []
        else:
            state = self.learner.state_dict_ref()
            refs = self.engines.update_weights(state, self.version)
        learner_lps = self._learner_probe(probe)
        seqs = [(list(s.prompt_ids) + list(s.response_ids), len(s.prompt_ids)) for s in probe]
        score_ref = self.engines.engines[0].score.remote(seqs) if probe else None
        self._pending_sync = refs
        return time.time() - started, score_ref, learner_lps

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

    # ------------------------------------------------------------ the loop
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        started = time.time()
        results: dict[str, Any] = {"run_dir": str(self.run_dir)}
        base_eval = self._evaluate()
        self.metrics.log({"step": 0, **base_eval})
        results["eval/accuracy_start"] = base_eval["eval/accuracy"]
        log.info("base eval accuracy %.3f", base_eval["eval/accuracy"])
        self._dispatch(0, cfg.rollout.prompts_per_step)
        pending_line: dict[str, Any] | None = None
        pending_probe: tuple[ray.ObjectRef | None, list[list[float]]] | None = None
        bar = None
        if cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.steps, desc="rlvr train", unit="step")
        for step in range(cfg.steps):
            step_start = time.time()
            if cfg.rollout.async_steps > 0 and step + 1 < cfg.steps:
                self._dispatch(step + 1, cfg.rollout.prompts_per_step)
            elif cfg.rollout.async_steps == 0 and step > 0:
                self._dispatch(step, cfg.rollout.prompts_per_step)
            scored, kept, gen = self._collect(step)
            if pending_line is not None and pending_probe is not None:
                self._flush(pending_line, pending_probe)
            samples_all = [s for g in scored for s in g.samples]
            lengths = [len(s.response_ids) for s in samples_all]
            trunc = sum(s.truncated for s in samples_all) / max(1, len(samples_all))
            learn_start = time.time()
            stats = self._learn(kept) if kept else {}
            learn_s = time.time() - learn_start
            self.version += 1
            probe = [s for g in kept for s in g.samples][: cfg.rollout.logprob_probe_size] or samples_all[:cfg.rollout.logprob_probe_size]
            sync_s, score_ref, learner_lps = self._sync_and_probe(probe)
            stage_before = self.schedule.index
            changed = self.schedule.update(step + 1, trunc)
            tokens = max(1.0, stats.get("tokens", 0.0))
            line: dict[str, Any] = {
                "step": step + 1,
                "train/reward_mean": sum(s.reward for s in samples_all) / max(1, len(samples_all)),
                "train/accuracy": sum(s.correct for s in samples_all) / max(1, len(samples_all)),
                "train/zero_std_frac": sum(not has_signal(g) for g in scored) / max(1, len(scored)),
                "train/groups": len(kept),
                "train/verifier_errors": sum(s.verifier_error is not None for s in samples_all),
                "rollout/tokens_per_s": gen["tokens"] / max(1e-9, gen["seconds"]),
                "rollout/truncation_rate": trunc,
                "rollout/stale_dropped": self.stream.stale_dropped,
                "rollout/sampling_tries": gen["tries"],
                "learner/tokens_per_s": stats.get("input_tokens", 0.0) / max(1e-9, learn_s),
                "learner/samples_per_s": sum(len(g.samples) for g in kept) / max(1e-9, learn_s),
                "loss/clip_frac": (stats.get("clip_low", 0.0) + stats.get("clip_high", 0.0)) / tokens,
                "loss/clip_low_frac": stats.get("clip_low", 0.0) / tokens,
                "loss/clip_high_frac": stats.get("clip_high", 0.0) / tokens,
                "loss/tis_weight_mean": stats.get("tis_weight", tokens) / tokens,
                "loss/tis_clipped_frac": stats.get("tis_clipped", 0.0) / tokens,
                "loss/entropy": stats.get("entropy", 0.0) / tokens,
                "loss/approx_kl": stats.get("approx_kl_old", 0.0) / tokens,
                "loss/grad_norm": stats.get("grad_norm", 0.0),
                "learner/lr": stats.get("lr", 0.0),
                "response/length_mean": sum(lengths) / max(1, len(lengths)),
                "response/length_max": max(lengths, default=0),
                "response/length_min": min(lengths, default=0),
                "algo/stage": stage_before,
                "algo/max_tokens": self.schedule.stages[stage_before].max_tokens,
                # what the engines were actually asked for (dispatch runs ahead by async_steps)
                "rollout/max_tokens": max((g.request.max_tokens for g in scored), default=0),
                "time/sync_s": sync_s,
                "policy/version": self.version,
            }
            if self.cfg.algorithm.kl_coef > 0:
                line["loss/kl_ref"] = stats.get("kl_ref", 0.0) / tokens
            if self.cfg.algorithm.repetition.enabled:
                pens = [getattr(s, "repetition_penalty", 0.0) for s in samples_all]
                line["reward/repetition_penalty_mean"] = sum(pens) / max(1, len(pens))
            if changed:
                log.info("length stage %d -> %d at step %d: max_tokens %d", stage_before, self.schedule.index,
                         step + 1, self.schedule.max_tokens)
                line["algo/stage_changed_to"] = self.schedule.index
                line["algo/next_max_tokens"] = self.schedule.max_tokens
            if self.retirement is not None:
                rates: dict[str, list[bool]] = {}
                for g in scored:
                    rates.setdefault(g.request.prompt_id, []).extend(s.correct for s in g.samples)
                self.retirement.retire(list(rates), [sum(v) / len(v) for v in rates.values()])
            line["time/step_s"] = time.time() - step_start
            pending_line, pending_probe = line, (score_ref, learner_lps)
            if cfg.eval.every and (step + 1) % cfg.eval.every == 0 and step + 1 < cfg.steps:
                self._flush(pending_line, pending_probe)
                pending_line = pending_probe = None
                self.metrics.log({"step": step + 1, **self._evaluate()})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(reward=f"{line['train/reward_mean']:.3f}", acc=f"{line['train/accuracy']:.2f}")
        if pending_line is not None and pending_probe is not None:
            self._flush(pending_line, pending_probe)
        if bar is not None:
            bar.close()
        final_eval = self._evaluate()
        self.metrics.log({"step": cfg.steps, **final_eval})
        results["eval/accuracy_end"] = final_eval["eval/accuracy"]
        if cfg.save_checkpoint:
            results["checkpoint"] = self.learner.save(str(self.run_dir / "checkpoint"), self.model_path)
        results["time/total_s"] = time.time() - started
        return results

    def _flush(self, line: dict[str, Any], probe: tuple[ray.ObjectRef | None, list[list[float]]]) -> None:
        score_ref, learner_lps = probe
        if score_ref is not None:
            line["rollout/logprob_gap"] = self._gap(ray.get(score_ref), learner_lps)
        sync = ray.get(getattr(self, "_pending_sync", []) or [])
        if sync:
            line["time/engine_load_s"] = max(sync)
        self.metrics.log(line)

    def _evaluate(self) -> dict[str, float]:
        ev = self.cfg.eval
        return evaluate(self.engines.generate, self.eval_set, samples=ev.samples, temperature=ev.temperature,
                        max_tokens=ev.max_tokens, stop=self.stop, pool=self.scorer.pool, seed=self.cfg.seed)

    def close(self) -> None:
        for closer in (self.scorer.close, self.metrics.close, self.learner.shutdown, self.engines.shutdown):
            try:
                closer()
            except Exception as exc:  # keep closing the rest
                log.warning("shutdown: %s", exc)
