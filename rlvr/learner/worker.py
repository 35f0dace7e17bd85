"""One FSDP2 data-parallel learner worker (a Ray actor; gloo on CPU, NCCL on GPU).

All workers of a group run the same calls in lock-step: every forward, backward and
state-dict gather is a collective, so each worker must get the same number of micro-batches
(the batcher pads with zero-weight ones).
"""
from __future__ import annotations

import math
import os
import shutil
import socket
import time
from typing import Any

import torch
import torch.distributed as dist

from rlvr.config import LR_SCHEDULES, LearnerConfig, LoraConfig
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
                 load_reference: bool = False, lora: LoraConfig | None = None):
        """`total_steps`: optimizer steps the lr schedule spans; `load_reference`: reference log-probs of the
        starting policy for a KL term; `lora`: train LoRA adapters (rank > 0) instead of every weight."""
        self.rank = rank
        self.world_size = world_size
        self.cfg = cfg
        self.seed = seed
        self.total_steps = total_steps
        self.load_reference = load_reference
        self.lora = lora if lora is not None and lora.rank > 0 else None
        self.device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
        if self.device.type == "cpu":
            torch.set_num_threads(cfg.threads_per_worker)
        self.step_count = 0

    def address(self) -> tuple[str, int]:
        """The FSDP rendezvous: this node's address as the other nodes reach it, and a free port."""
        from rlvr.placement import node_address

        return node_address(), free_port()

    def setup(self, master_addr: str, master_port: int, model_path: str, dtype: str = "float32") -> int:
        os.environ["MASTER_ADDR"] = master_addr
        os.environ["MASTER_PORT"] = str(master_port)
        backend = self.cfg.backend
        if backend == "auto":
            backend = "nccl" if self.device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=self.rank, world_size=self.world_size)
        torch.manual_seed(self.seed)
        self.model = self._build_model(model_path, dtype)
        # A KL term's reference: a LoRA policy's base is the model with its adapter switched off, so only a
        # LoRA run that starts from a trained adapter needs a second model.
        needs_copy = self.load_reference and (self.lora is None or bool(self.lora.init_adapter))
        self.ref_model = self._build_reference(model_path, dtype) if needs_copy else None
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=self.cfg.lr, betas=tuple(self.cfg.betas),
                                           weight_decay=self.cfg.weight_decay)
        self.num_trainable = sum(p.numel() for p in trainable)
        self.model_path = model_path
        return sum(p.numel() for p in self.model.parameters())

    def _shard(self, model: torch.nn.Module) -> None:
        """FSDP2: each decoder layer its own unit, then the rest (bf16 compute on GPU when asked)."""
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        from rlvr.learner.lora import decoder_layers

        kwargs = {}
        if self.device.type == "cuda" and self.cfg.mixed_precision == "bf16":
            kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        for layer in decoder_layers(model):
            fully_shard(layer, **kwargs)
        fully_shard(model, **kwargs)

    def _load(self, model_path: str, dtype: str) -> torch.nn.Module:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype), attn_implementation="sdpa")
        return model.to(self.device)

    def _build_model(self, model_path: str, dtype: str) -> torch.nn.Module:
        """The policy: loaded, wrapped with LoRA adapters when asked (before sharding, so FSDP2 shards the
        adapters with their layers), each decoder layer under an activation-checkpoint wrapper when asked
        (inside the FSDP unit, so the recomputation's all-gather is FSDP's own), then sharded."""
        from rlvr.learner.lora import decoder_layers
        from rlvr.learner.objectives import use_compiled_head

        model = self._load(model_path, dtype)
        self.lora_scaling: dict[str, float] = {}
        if self.lora is not None:
            from rlvr.learner import lora

            model = lora.wrap(model, self.lora)
            self.lora_scaling = lora.scalings(model)
        use_compiled_head(self.cfg.compile)  # the log-prob and entropy head over the vocabulary, fused when compiled
        if self.cfg.compile:
            for layer in decoder_layers(model):
                # The forward only: FSDP2's hooks stay eager around it and parameter names stay unchanged.
                layer.forward = torch.compile(layer.forward)
        if self.cfg.activation_checkpointing:
            from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

            layers = decoder_layers(model)
            for i, layer in enumerate(layers):
                layers[i] = checkpoint_wrapper(layer)  # non-reentrant: works with frozen inputs (LoRA)
        self._shard(model)
        return model

    def _build_reference(self, model_path: str, dtype: str) -> torch.nn.Module:
        """A frozen copy of the starting policy (with a LoRA run's initial adapter merged in), sharded alike."""
        ref = self._load(model_path, dtype)
        if self.lora is not None and self.lora.init_adapter:
            from peft import PeftModel

            ref = PeftModel.from_pretrained(ref, self.lora.init_adapter).merge_and_unload()
        ref.eval().requires_grad_(False)
        self._shard(ref)
        return ref

    @torch.no_grad()
    def _reference_logprobs(self, mb: dict[str, Any], temperature: float) -> torch.Tensor:
        if self.ref_model is not None:
            return token_logprobs(self.ref_model, mb, temperature)
        with self.model.disable_adapter():  # LoRA: the base model is the starting policy
            return token_logprobs(self.model, mb, temperature)

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
            if self.load_reference:  # only RL with a KL term
                mb["ref_logp"] = self._reference_logprobs(mb, step.temperature)
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
        """What the engines load: the unsharded weights on CPU at rank 0 (None elsewhere), under the base
        model's names; with LoRA the merged W + s B A (rlvr.learner.lora.merge). A collective: call on all."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        sd = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if self.rank != 0:
            return None
        if self.lora is not None:
            from rlvr.learner.lora import merge

            sd = merge(sd, self.lora_scaling)
        sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
        tied = getattr(self.model.config, "tie_word_embeddings", False)
        if "lm_head.weight" not in sd and tied:
            # vLLM's loader wants the head even when tied (without it log-probs came out wrong).
            sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
        return sd

    def adapter_state(self) -> dict[str, Any] | None:
        """LoRA only: the adapter alone at rank 0 ({"tensors", "config"}, see lora.adapter_payload), gathering
        only the trainable tensors. A collective: call on all."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        from rlvr.learner.lora import adapter_payload

        if self.lora is None:
            raise RuntimeError("adapter_state: this learner trains no LoRA adapter (model.lora.rank=0)")
        sd = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True,
                                                                       ignore_frozen_params=True))
        return adapter_payload(sd, self.model) if self.rank == 0 else None

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
        """Write an HF checkpoint (config, safetensors, tokenizer) from rank 0; a LoRA run's merged weights,
        and its adapter in `path`/adapter. A collective."""
        sd = self.full_state_dict()
        adapter = self.adapter_state() if self.lora is not None else None
        if self.rank != 0:
            return None
        if adapter is not None:
            from rlvr.learner.lora import save_adapter

            save_adapter(adapter, os.path.join(path, "adapter"))
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

    # ------------------------------------------------------------ resumable state
    def _sharded_state(self) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_state_dict

        model_sd, optim_sd = get_state_dict(self.model, self.optimizer)
        return {"model": model_sd, "optim": optim_sd}

    def save_state(self, path: str) -> None:
        """Model and AdamW shards via torch.distributed.checkpoint (loadable by another worker count), plus this
        rank's optimizer-step count (the lr schedule's position) and RNG. A collective: call on all workers.
        The frozen KL reference is not saved: it is the starting checkpoint, loaded again."""
        import torch.distributed.checkpoint as dcp

        dcp.save(self._sharded_state(), checkpoint_id=path)  # its FileSystemWriter fsyncs each file
        extra = {"step_count": self.step_count, "world_size": self.world_size, "rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
        target = os.path.join(path, f"rank_{self.rank}.pt")
        with open(target, "wb") as f:
            torch.save(extra, f)
            f.flush()
            os.fsync(f.fileno())

    def load_state(self, path: str) -> int:
        """Load what `save_state` wrote (any worker count); returns the optimizer-step count. A collective.
        RNG states are restored only when the worker count is unchanged (a rank's stream has no meaning else)."""
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import set_state_dict

        state = self._sharded_state()
        dcp.load(state, checkpoint_id=path)
        set_state_dict(self.model, self.optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        extra = torch.load(os.path.join(path, "rank_0.pt"), weights_only=False)
        self.step_count = int(extra["step_count"])
        mine = os.path.join(path, f"rank_{self.rank}.pt")
        if extra["world_size"] == self.world_size and os.path.exists(mine):
            extra = torch.load(mine, weights_only=False)
            torch.set_rng_state(extra["rng"])
            if extra["cuda_rng"] is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(extra["cuda_rng"])
        return self.step_count

    def save_state_on_node(self, root: str, tag: str) -> dict[str, Any]:
        """`save_state` into this node's own directory under `root` (no shared filesystem needed), then hand the
        files back to the driver, which collects every rank's into the checkpoint, and remove the local copy."""
        local = self._node_dir(root, tag)
        self.save_state(local)
        files = {}
        for name in sorted(os.listdir(local)):
            with open(os.path.join(local, name), "rb") as f:
                files[name] = f.read()
        shutil.rmtree(local, ignore_errors=True)
        return {"dir": local, "files": files}

    def load_state_on_node(self, root: str, tag: str, files: dict[str, bytes]) -> int:
        """`load_state` of a checkpoint the driver ships as `files`, written to this node's own directory first."""
        local = self._node_dir(root, tag)
        os.makedirs(local, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(local, name), "wb") as f:
                f.write(data)
        try:
            return self.load_state(local)
        finally:
            shutil.rmtree(local, ignore_errors=True)

    def _node_dir(self, root: str, tag: str) -> str:
        """<root>/<Ray node id>/rank_<r>/<tag>: one directory per node and rank (ranks on one node stay apart)."""
        import ray

        return os.path.join(root, ray.get_runtime_context().get_node_id(), f"rank_{self.rank}", tag)

    def shutdown(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
