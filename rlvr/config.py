"""Structured configs (Hydra) for `rlvr train`. conf/ mirrors these dataclasses as YAML groups.

Every knob has a default, a type and one line of doc. `register_configs()` puts the schema into
Hydra's ConfigStore as `rlvr_schema`, which conf/config.yaml extends, so a typo in an override
is an error rather than a silently ignored key. `to_dataclass` also checks the enum-like values
(`TrainConfig.validate`), so `algorithm.overlong=soft` fails at compose time, not silently.

The rollout and learner sections travel to the Ray actors as these dataclasses (they pickle), so
every default lives here and nowhere else.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from rlvr.algorithms.config import AlgorithmConfig, check_choice
from rlvr.data.formats import FORMATS as DATA_FORMATS

LR_SCHEDULES = ("constant", "cosine", "linear")
MIXED_PRECISION = ("bf16", "fp32")
BACKENDS = ("auto", "gloo", "nccl")
LOGGERS = ("jsonl", "tensorboard", "wandb", "mlflow")
WEIGHT_SYNCS = ("object_store", "collective")  # rlvr.rollout.weight_sync.TRANSPORTS
INFLIGHT_UPDATES = ("off", "keep", "resubmit")  # rlvr.rollout.vllm_engine: when an engine takes new weights


@dataclasses.dataclass
class BaseModelConfig:
    """The base checkpoint `rlvr pretrain` makes when no model path is given (cached)."""

    vocab_size: int = 768  # BPE vocabulary of the tokenizer trained on the corpus
    hidden_size: int = 128  # tiny Qwen2 width (head_dim 64: vLLM's CPU attention needs >= 32)
    num_layers: int = 2  # decoder layers
    num_heads: int = 2  # attention heads (head_dim = hidden_size / num_heads)
    intermediate_size: int = 512  # MLP width
    max_position_embeddings: int = 512  # context length of the base
    corpus: str = "arithmetic"  # datasets/<corpus>.py provides pretrain_corpus(n_docs, seed)
    corpus_docs: int = 60000  # documents drawn from the corpus generator
    steps: int = 750  # optimizer steps of pretraining (about 3M tokens; bench/base_pretrain_probe.py)
    batch_size: int = 16  # packed sequences per optimizer step (all workers)
    seq_len: int = 256  # packed sequence length
    lr: float = 3e-3  # peak learning rate (cosine to 10% with warm-up)
    warmup_steps: int = 30  # linear warm-up steps
    num_workers: int = 1  # FSDP workers for pretraining (one process with all cores is fastest for ~1M params)
    threads_per_worker: int = 2  # torch threads per worker
    seed: int = 0  # seed for the corpus, tokenizer and init


LORA_SYNC = ("auto", "merged", "adapter")
QWEN2_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclasses.dataclass
class LoraConfig:
    rank: int = 0  # LoRA rank r of every adapted layer; 0: off (full fine-tuning)
    alpha: float = 16.0  # the update is (alpha / rank) * B A
    lr: float = 1e-3  # peak lr when rank > 0, in place of learner.lr (LoRA wants ~10x full tuning's; README, LoRA)
    dropout: float = 0.0  # dropout on the adapters' input during training
    target_modules: list[str] = field(default_factory=lambda: list(QWEN2_LINEAR))  # module names (or [all-linear])
    init_adapter: str = ""  # start from this PEFT adapter directory (trainable); empty: a fresh adapter (B = 0)
    sync: str = "auto"  # engines get: merged (W + scale B A) | adapter (vLLM LoRA) | auto (adapter if the engine can)

    def validate(self, prefix: str = "model.lora") -> None:
        if self.rank < 0:
            raise ValueError(f"{prefix}.rank={self.rank} must be >= 0 (0: off)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{prefix}.dropout={self.dropout} must be in [0, 1)")
        if self.rank and not self.target_modules:
            raise ValueError(f"{prefix}.target_modules is empty: name the modules to adapt")
        check_choice(f"{prefix}.sync", self.sync, LORA_SYNC)


@dataclasses.dataclass
class ModelConfig:
    path: str = ""  # Hugging Face checkpoint dir; empty: the cached tiny base built from `base`
    dtype: str = "float32"  # weights dtype for rollout and learner master weights
    base: BaseModelConfig = field(default_factory=BaseModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)  # LoRA adapters instead of full fine-tuning


@dataclasses.dataclass
class DataConfig:
    source: str = "arithmetic"  # builtin name, public set, .jsonl/.json/.parquet, save_to_disk dir or hf:ORG/NAME[:CONFIG][:SPLIT]
    eval_source: str = ""  # eval set source; empty: the same source's eval split
    train_size: int = 4000  # training prompts drawn (builtin generators) or kept (files; 0 = all)
    eval_size: int = 200  # held-out prompts for eval/accuracy
    prompt_template: str = ""  # str.format template with {question}; empty: the dataset's own template
    default_verifier: str = "math"  # verifier for rows without a `verifier` field (or source name)
    format: str = "auto"  # row layout of a file: auto (from the columns) | plain | verl | open_instruct
    verifier_map: dict[str, str] = field(default_factory=dict)  # verl data_source / open-instruct dataset -> verifier
    chat_template: bool = False  # render prompts with the tokenizer's chat template (default: RL-Zero plain text)
    system_prompt: str = ""  # with chat_template: a system message for rows without one (e.g. a think instruction)
    drop_long_prompts: bool = False  # leave out (count, log) prompts over the context instead of failing
    seed: int = 0  # seed for generation and shuffling of the data

    def validate(self, prefix: str = "data") -> None:
        check_choice(f"{prefix}.format", self.format, DATA_FORMATS)
        if self.system_prompt and not self.chat_template:
            raise ValueError(f"{prefix}.system_prompt needs {prefix}.chat_template=true")


@dataclasses.dataclass
class RolloutConfig:
    num_engines: int = 1  # vLLM engines (Ray actors), one placement bundle each
    gpus_per_engine: int = 1  # GPUs per engine when GPUs exist (tensor parallel size)
    cpus_per_engine: float = 1.0  # Ray CPUs reserved per engine
    group_size: int = 8  # samples per prompt (G)
    prompts_per_step: int = 16  # prompt groups per optimizer step
    max_tokens: int = 32  # response length cap (a length schedule may override it)
    temperature: float = 1.0  # sampling temperature (learner log-probs use the same)
    top_p: float = 1.0  # nucleus sampling (< 1 only with tis=none, old_logprobs=learner, async_steps=0)
    top_k: int = 0  # top-k sampling, 0: off (> 0 only with tis=none, old_logprobs=learner, async_steps=0)
    stop: list[str] = field(default_factory=list)  # extra stop strings; the dataset's own stops are added
    async_steps: int = 1  # use groups sampled at most this many policy versions ago
    max_model_len: int = 256  # vLLM context length
    gpu_memory_utilization: float = 0.3  # vLLM memory share (on CPU: ignored in favour of kv_cache_gb)
    kv_cache_gb: int = 1  # VLLM_CPU_KVCACHE_SPACE on CPU
    enforce_eager: bool = True  # no CUDA graphs / compile (needed on CPU; faster start-up)
    logprob_probe_size: int = 8  # sequences re-scored after each weight sync for rollout/logprob_gap
    skip_weight_sync: bool = False  # testing only: never push new weights (the gap test must fail)
    max_engine_restarts: int = 3  # engines that die are replaced with the current weights this often per run, then the run stops
    weight_sync: str = "object_store"  # object_store (Ray object store, each engine pulls) | collective (rank 0 broadcasts)
    sync_bucket_mb: float = 64.0  # collective: size of each broadcast bucket in MiB
    sync_timeout_s: float = 600.0  # collective: a receiver silent this long fails the sync (gloo timeout)
    node_resource: str = ""  # custom Ray resource the engines' nodes advertise (rlvr/placement.py); empty: any node
    inflight_updates: str = "off"  # weights land: off (between calls) | keep | resubmit (between engine steps; KV kept / recomputed)

    def validate(self, prefix: str = "rollout") -> None:
        check_choice(f"{prefix}.weight_sync", self.weight_sync, WEIGHT_SYNCS)
        check_choice(f"{prefix}.inflight_updates", self.inflight_updates, INFLIGHT_UPDATES)
        if self.sync_bucket_mb <= 0 or self.sync_timeout_s <= 0:
            raise ValueError(f"{prefix}.sync_bucket_mb={self.sync_bucket_mb} and {prefix}.sync_timeout_s="
                             f"{self.sync_timeout_s} must be positive")


@dataclasses.dataclass
class LearnerConfig:
    num_workers: int = 2  # FSDP2 data-parallel workers (Ray actors)
    gpus_per_worker: int = 1  # GPUs per worker when GPUs exist
    cpus_per_worker: float = 1.0  # Ray CPUs reserved per worker
    threads_per_worker: int = 1  # torch intra-op threads per worker on CPU
    lr: float = 8e-6  # AdamW learning rate (by the README's sweep: the random control stays flat; Olmo 3: 1e-6 at 7B)
    weight_decay: float = 0.0  # AdamW weight decay
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW betas
    warmup_steps: int = 5  # linear warm-up steps (Adam's first steps are sign-like: full lr at once is destructive)
    lr_schedule: str = "constant"  # constant | cosine | linear (after warm-up)
    grad_clip: float = 1.0  # max global gradient norm (0: off)
    micro_batch_size: int = 32  # sequences per forward/backward on one worker
    mini_batches: int = 1  # optimizer steps per rollout batch (1: on-policy, ratio == 1)
    mixed_precision: str = "bf16"  # on GPU: bf16 | fp32 params in compute; ignored on CPU
    backend: str = "auto"  # auto (nccl on GPU, gloo on CPU) | gloo | nccl
    pack: bool = True  # RL: pack a micro-batch's sequences into rows as long as its longest where that saves rows (varied lengths)
    activation_checkpointing: bool = False  # recompute each decoder layer's activations in backward (less memory)
    compile: bool = False  # torch.compile each decoder layer and the log-prob head (pays on GPU; rarely on CPU)
    node_resource: str = ""  # custom Ray resource the learner's nodes advertise (rlvr/placement.py); empty: any node

    def validate(self, prefix: str = "learner") -> None:
        check_choice(f"{prefix}.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice(f"{prefix}.mixed_precision", self.mixed_precision, MIXED_PRECISION)
        check_choice(f"{prefix}.backend", self.backend, BACKENDS)


@dataclasses.dataclass
class RewardConfig:
    verifier: str = ""  # override every row's verifier (e.g. random for the negative control)
    options: dict[str, Any] = field(default_factory=dict)  # keyword options for that verifier
    timeout_s: float = 10.0  # hard per-item timeout of verifier workers
    num_workers: int = 2  # verifier worker processes
    import_modules: list[str] = field(default_factory=list)  # modules whose @register verifiers the workers need


@dataclasses.dataclass
class EvalConfig:
    every: int = 0  # evaluate every N steps (0: only before and after training)
    temperature: float = 0.0  # 0: greedy
    samples: int = 1  # n: samples per prompt (eval/accuracy is avg@n)
    pass_k: int = 0  # k of the unbiased pass@k and of maj@k over the n samples (0: k = n; must be <= n)
    max_tokens: int = 32  # response cap at eval


@dataclasses.dataclass
class RayConfig:
    address: str = ""  # join this cluster (e.g. auto or host:port); empty: start a local one
    num_cpus: int = 0  # logical CPUs of a local cluster (0: enough for the placement)


@dataclasses.dataclass
class TrackerConfig:
    """Where `logger=[..., wandb]` and `logger=[..., mlflow]` send a run (rlvr/metrics.py); both attach the resolved config."""

    project: str = "rlvr"  # W&B project and MLflow experiment name
    name: str = ""  # run name; empty: the run directory's name
    wandb_mode: str = ""  # online | offline | disabled; empty: WANDB_MODE from the environment, else online
    mlflow_uri: str = ""  # MLflow tracking URI; empty: a local store in <run>/mlflow (sqlite, artifacts beside it)


@dataclasses.dataclass
class CheckpointConfig:
    """Resumable checkpoints of `rlvr train` under <run>/checkpoints (rlvr/checkpoint.py says what they hold)."""

    every: int = 0  # save every N steps (0: off; the final HF checkpoint is separate, see save_checkpoint)
    keep_last: int = 2  # complete checkpoints kept (older ones are deleted)
    resume: str = ""  # "" (start fresh) | auto (newest complete one in the run dir, fresh if none) | a step_N path
    node_local_dir: str = ""  # learner workers write shards here on their own node, the driver collects them ("": into the run dir)


@dataclasses.dataclass
class TrainConfig:
    seed: int = 0  # global seed: sampling, init, data order
    steps: int = 40  # optimizer steps (rollout batches)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    logger: list[str] = field(default_factory=lambda: ["jsonl", "tensorboard"])  # metric sinks: jsonl tensorboard wandb mlflow
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    output_dir: str = ""  # run directory; empty: Hydra's run dir (or the cwd outside Hydra)
    save_checkpoint: bool = True  # write the final HF checkpoint to <run>/checkpoint
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    rollout_log: bool = False  # write each step's prompts, responses, rewards, verdicts to <run>/rollouts/step_N.jsonl.gz
    min_free_gb: float = 1.0  # refuse to start when the run directory's disk has less free (GiB)
    progress: bool = True  # tqdm progress bar on the terminal

    def validate(self) -> None:
        """Enum-like values and combinations checked before anything starts (the schema only checks types)."""
        self.learner.validate()
        self.model.lora.validate()
        self.rollout.validate()
        self.algorithm.validate()
        self.data.validate()
        for name in self.logger:
            check_choice("logger", name, LOGGERS)
        if self.tracker.wandb_mode:
            check_choice("tracker.wandb_mode", self.tracker.wandb_mode, ("online", "offline", "disabled"))
        check_truncated_sampling(self)
        if self.checkpoint.every < 0 or self.checkpoint.keep_last < 1:
            raise ValueError(f"checkpoint.every={self.checkpoint.every} must be >= 0 and "
                             f"checkpoint.keep_last={self.checkpoint.keep_last} >= 1")
        if not 0 <= self.eval.pass_k <= max(1, self.eval.samples):
            raise ValueError(f"eval.pass_k={self.eval.pass_k} must be between 0 (= eval.samples) and "
                             f"eval.samples={self.eval.samples}")


def corrects_staleness(cfg: TrainConfig) -> bool:
    """Whether samples drawn by an older policy (async_steps >= 1) are corrected for: by truncated
    importance sampling with the engine's log-probs, or by the engine's log-probs as the ratio's denominator."""
    return cfg.algorithm.tis != "none" or cfg.algorithm.old_logprobs == "engine"


def check_truncated_sampling(cfg: TrainConfig) -> None:
    """Reject top_p < 1 / top_k > 0 wherever the engine's log-probs enter the loss.

    vLLM logs the log-prob under the truncated (renormalised) distribution it sampled from, the learner
    computes the full softmax: TIS weights and an engine-denominator ratio would be biased, and an
    asynchronous run has no unbiased correction at all.
    """
    ro, algo = cfg.rollout, cfg.algorithm
    for key, active in (("rollout.top_p", ro.top_p < 1.0), ("rollout.top_k", ro.top_k > 0)):
        if not active:
            continue
        if algo.tis != "none" or algo.old_logprobs == "engine" or ro.async_steps > 0:
            value = ro.top_p if key == "rollout.top_p" else ro.top_k
            raise ValueError(
                f"{key}={value}: vLLM's log-probs of truncated sampling are not the learner's, which biases "
                f"algorithm.tis={algo.tis!r} / algorithm.old_logprobs={algo.old_logprobs!r} / "
                f"rollout.async_steps={ro.async_steps}; use it only with algorithm.tis=none, "
                f"algorithm.old_logprobs=learner and rollout.async_steps=0")


def register_configs() -> None:
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="rlvr_schema", node=TrainConfig)


def to_dataclass(cfg: Any) -> TrainConfig:
    """An OmegaConf DictConfig (from Hydra or a test) as a typed TrainConfig, validated."""
    from omegaconf import OmegaConf

    merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), cfg)
    out: TrainConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    out.validate()
    return out
