"""One FSDP2 data-parallel learner worker (a Ray actor; gloo on CPU, NCCL on GPU).

All workers of a group run the same calls in lock-step: every forward, backward and
state-dict gather is a collective, so each worker must get the same number of micro-batches
(the batcher pads with zero-weight ones).
"""
from __future__ import annotations

import math
import os
import socket
import time
from typing import Any

import torch
import torch.distributed as dist

from rlvr.config import LR_SCHEDULES, LearnerConfig
from rlvr.learner.objectives import Objective, token_logprobs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    """Multiplier of the peak learning rate at optimizer step `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "cosine":
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    raise ValueError(f"learner.lr_schedule: unknown schedule {schedule!r} ({', '.join(LR_SCHEDULES)})")


class LearnerWorker:
    def __init__(self, rank: int, world_size: int, cfg: LearnerConfig, seed: int, total_steps: int,
                 load_reference: bool = False):
        """`total_steps`: optimizer steps the lr schedule spans; `load_reference`: keep a frozen copy of the
        starting policy for a KL term."""
        self.rank = rank
        self.world_size = world_size
        self.cfg = cfg
        self.seed = seed
        self.total_steps = total_steps
        self.load_reference = load_reference
        self.device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
        if self.device.type == "cpu":
            torch.set_num_threads(cfg.threads_per_worker)
        self.step_count = 0

    def address(self) -> tuple[str, int]:
        """The FSDP rendezvous: this node's address as the other nodes reach it, and a free port."""
        from rlvr.placement import node_address

        return node_address(), free_port()

    def setup(self, master_addr: str, master_port: int, model_path: str, dtype: str = "float32") -> int:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
        from transformers import AutoModelForCausalLM

        os.environ["MASTER_ADDR"] = master_addr
        os.environ["MASTER_PORT"] = str(master_port)
        backend = self.cfg.backend
        if backend == "auto":
            backend = "nccl" if self.device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=self.rank, world_size=self.world_size)
        torch.manual_seed(self.seed)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype), attn_implementation="sdpa")
        model.to(self.device)
        mp = None
        if self.device.type == "cuda" and self.cfg.mixed_precision == "bf16":
            mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        kwargs = {"mp_policy": mp} if mp is not None else {}
        for layer in model.model.layers:
            fully_shard(layer, **kwargs)
        fully_shard(model, **kwargs)
        self.model = model
        self.ref_model = None
        if self.load_reference:
            # Only when a KL term is on: a frozen copy of the starting policy, sharded the same way.
            ref = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype), attn_implementation="sdpa")
            ref.to(self.device).eval().requires_grad_(False)
            for layer in ref.model.layers:
                fully_shard(layer, **kwargs)
            fully_shard(ref, **kwargs)
            self.ref_model = ref
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.cfg.lr, betas=tuple(self.cfg.betas),
                                           weight_decay=self.cfg.weight_decay)
        self.model_path = model_path
        return sum(p.numel() for p in model.parameters())

    # ------------------------------------------------------------------ steps
    def _to_device(self, mb: dict[str, Any]) -> dict[str, Any]:
        return {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in mb.items()}

    def train_step(self, micro_batches: list[dict[str, Any]], objective: Objective, step: Any) -> dict[str, float]:
        """One optimizer step over this worker's micro-batches; returns summed stats.

        `step` (PolicyStep or CausalLMStep) carries what every worker needs to normalise exactly (the
        step's global token and sequence counts) plus the objective's settings. Each micro-batch loss is
        this worker's share of the global loss; it is multiplied by world_size because FSDP averages
        gradients over workers, and the global loss is their sum, not their mean.
        """
        started = time.time()
        self.model.train()
        lr = self.cfg.lr * lr_factor(self.step_count, self.cfg.warmup_steps, self.total_steps, self.cfg.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals: dict[str, float] = {}
        tokens = 0
        for mb in micro_batches:
            mb = self._to_device(mb)
            if self.ref_model is not None:  # only RL with a KL term loads one
                with torch.no_grad():
                    mb["ref_logp"] = token_logprobs(self.ref_model, mb, step.temperature)
            loss, stats = objective(self.model, mb, step)
            (loss * self.world_size).backward()
            tokens += int(mb.get("num_tokens", mb["input_ids"].numel()))
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + float(v)
        clip = self.cfg.grad_clip
        if clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            totals["grad_norm"] = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_count += 1
        totals["lr"] = lr
        totals["seconds"] = time.time() - started
        totals["input_tokens"] = float(tokens)
        return totals

    @torch.no_grad()
    def logprobs(self, micro_batches: list[dict[str, Any]], temperature: float = 1.0) -> list[torch.Tensor]:
        """Per-target-token log-probs [B, L-1] of each micro-batch under the current weights."""
        self.model.eval()
        out = []
        for mb in micro_batches:
            mb = self._to_device(mb)
            out.append(token_logprobs(self.model, mb, temperature).float().cpu())
        return out

    # ---------------------------------------------------------------- weights
    def full_state_dict(self) -> dict[str, torch.Tensor] | None:
        """The unsharded state dict on CPU at rank 0 (None elsewhere). A collective: call on all."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        sd = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if self.rank != 0:
            return None
        sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
        tied = getattr(self.model.config, "tie_word_embeddings", False)
        if "lm_head.weight" not in sd and tied:
            # vLLM's loader wants the head even when tied (without it log-probs came out wrong).
            sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
        return sd

    # ------------------------------------------------- collective weight sync (rlvr.rollout.weight_sync)
    def weight_specs(self) -> list[Any] | None:
        """The specs of what the engines load (names, shapes, dtypes, tied aliases) at rank 0. A collective."""
        from rlvr.rollout.weight_sync import describe

        sd = self.full_state_dict()
        return describe(sd) if sd is not None else None

    def open_weight_sync(self, timeout_s: float) -> tuple[str, int]:
        """Rank 0: the weight-sync group's own TCPStore (not the FSDP rendezvous); its (host, port)."""
        from rlvr.rollout.weight_sync import open_store

        self._wsync_store, host, port = open_store(timeout_s)
        return host, port

    def connect_weight_sync(self, world: int, timeout_s: float, specs: list[Any], plan: list[list[int]]) -> None:
        """Rank 0 joins the group as its sender; returns once every engine worker has joined."""
        from rlvr.rollout.weight_sync import Sender, TransferGroup

        group = TransferGroup("", 0, 0, world, timeout_s, store=self._wsync_store)
        self._wsync_sender = Sender(group, specs, plan)

    def send_weights(self, version: int) -> float:
        """Gather the full state (a collective: call on all ranks); rank 0 packs it and starts broadcasting
        it in a thread, so training goes on while the engines finish their queued generation. Rank 0
        returns the bytes it sends (others 0)."""
        sd = self.full_state_dict()
        if sd is None:
            return 0.0
        return self._wsync_sender.start(sd, version)

    def wait_weight_sync(self, timeout_s: float | None = None) -> dict[str, float]:
        """Rank 0: wait for the send in flight; raise its error (e.g. a receiver died)."""
        return self._wsync_sender.wait(timeout_s)

    def save(self, path: str, tokenizer_dir: str | None = None) -> str | None:
        """Write an HF checkpoint (config, safetensors, tokenizer) from rank 0. A collective."""
        sd = self.full_state_dict()
        if self.rank != 0:
            return None
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        config = AutoConfig.from_pretrained(self.model_path)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(sd, assign=True, strict=False)
        model.tie_weights()
        os.makedirs(path, exist_ok=True)
        model.save_pretrained(path)
        AutoTokenizer.from_pretrained(tokenizer_dir or self.model_path).save_pretrained(path)
        return path

    def shutdown(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
