"""Recipe configs: the structured schema of conf/recipe/<name>.yaml and how a recipe is composed.

A recipe is one training stage that produces a checkpoint RL can start from: a base (pretrain), a
midtraining anneal, a long-context extension, a Think SFT, or a microanneal pair. Recipes are the
options of the Hydra config group `recipe` (conf/recipe/NAME.yaml, package _global_) that
conf/stage.yaml composes over the `rlvr_recipe_schema` structured config below, so a mistyped
override is an error, and `--cfg job` prints what would run without running it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rlvr import hydra_app
from rlvr.config import LearnerConfig
from rlvr.paths import CONF_DIR
from rlvr.recipes.mix import load_mix

RECIPE_DIR = CONF_DIR / "recipe"
STAGES = ("pretrain", "midtrain", "long_context", "sft", "microanneal", "select")


class RecipeError(ValueError):
    """A recipe that cannot run as configured; the message names the recipe and the key."""


@dataclasses.dataclass
class TinyModelConfig:
    """A tiny Qwen2 made from scratch (model.init=tiny): tokenizer trained on the mix, random init."""

    vocab_size: int = 512  # BPE vocabulary (256 bytes + 5 specials + merges)
    hidden_size: int = 128  # width; head_dim = hidden_size / num_heads must suit vLLM's CPU attention
    num_layers: int = 4  # decoder layers
    num_heads: int = 2  # attention heads
    intermediate_size: int = 512  # MLP width
    max_position_embeddings: int = 512  # context length written into the config
    tokenizer_docs: int = 20000  # documents drawn from the mix's sources to train the tokenizer
    seed: int = 0  # tokenizer sample and weight init


@dataclasses.dataclass
class RecipeModelConfig:
    path: str = ""  # start checkpoint: HF dir, hub id, "base" (rlvr's cached tiny base) or "recipe:NAME"
    init: str = "pretrained"  # pretrained (load path) | tiny (new tokenizer + tiny Qwen2) | config (random init of path's config)
    tokenizer: str = ""  # tokenizer dir or hub id; empty: the start checkpoint's own
    dtype: str = "float32"  # learner weights dtype (bf16 compute on GPU comes from learner.mixed_precision)
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)


@dataclasses.dataclass
class MixDataConfig:
    mix: str = ""  # mix file: a name in conf/recipe/mix/ or a path to a YAML list of sources
    total_tokens: int = 0  # token budget shared by the weighted sources (0: only per-source budgets)
    seq_len: int = 128  # packed row length (tokens)
    packing: bool = True  # pack documents into rows (position ids restart, block-causal mask)
    seed: int = 0  # seed of generators and of sampling to the budget


@dataclasses.dataclass
class DecontaminationConfig:
    enabled: bool = True  # check the mix against the eval sets before training
    n: int = 13  # n-gram length, in normalised words
    eval_sets: list[str] = field(default_factory=lambda: ["arithmetic"])  # prompt sources (builtin, public set, file)
    eval_split: str = "eval"  # split of builtin eval sets (public sets and files use their own)
    eval_size: int = 0  # rows per eval set (0: every row of a file, 1000 from a generator)
    drop: bool = True  # drop matching training documents (False: only report them)


def recipe_learner() -> LearnerConfig:
    """The recipes' optimiser defaults (the RL defaults in rlvr/config.py suit RL, not pretraining)."""
    return LearnerConfig(num_workers=2, gpus_per_worker=1, cpus_per_worker=1.0, threads_per_worker=1, lr=1e-3,
                         weight_decay=0.01, betas=[0.9, 0.95], warmup_steps=10, lr_schedule="linear", grad_clip=1.0,
                         micro_batch_size=16, mini_batches=1, mixed_precision="bf16", backend="auto")


@dataclasses.dataclass
class RecipeTrainConfig:
    steps: int = 0  # optimizer steps; 0: derived from the data (tokens / (batch_size * seq_len) * epochs)
    epochs: float = 1.0  # passes over the data when steps is derived
    batch_size: int = 32  # rows (packed rows or SFT examples) per optimizer step, all workers together
    save_every: int = 0  # also save a resumable checkpoint to <out>/checkpoints every N steps (0: only the final one)
    keep_last: int = 2  # resumable checkpoints kept
    resume: bool = True  # a run into an output dir holding a complete checkpoint continues from it (kill -9 safe)
    log_every: int = 25  # log a line every N steps
    peak_tflops: float = 0.0  # per-worker peak for MFU (0: 989 for an H100 bf16, 0.1 on CPU)
    seed: int = 0  # data order


@dataclasses.dataclass
class StageEvalConfig:
    enabled: bool = True  # evaluate the start and the final checkpoint
    source: str = "arithmetic"  # prompt source (builtin, public set such as gsm8k, or a JSONL/Parquet file)
    split: str = "eval"  # split of a builtin source (public sets use "test")
    size: int = 200  # prompts evaluated
    seed: int = 1  # the seed `rlvr train` uses for its eval set (data.seed + 1), so figures match
    max_tokens: int = 32  # greedy response cap
    batch_size: int = 64  # prompts per generate call
    engine: str = "transformers"  # transformers (cheap, CPU) | vllm
    chat: bool = False  # wrap questions in the tokenizer's chat template (SFT/Think models)


@dataclasses.dataclass
class LongContextConfig:
    rope_type: str = "yarn"  # RoPE scaling written into the config (transformers rope_parameters)
    factor: float = 4.0  # new context = original_max_position_embeddings * factor
    original_max_position_embeddings: int = 0  # the length the model was trained at (0: its max_position_embeddings)
    beta_fast: float = 32.0  # YaRN ramp boundaries (the paper's defaults)
    beta_slow: float = 1.0
    eval_source: str = "arithmetic:pretrain"  # held-out texts: a generator (NAME:WHAT) or a .jsonl/.parquet file
    eval_lengths: list[int] = field(default_factory=lambda: [128, 256, 512])  # perplexity measured at these lengths
    eval_docs: int = 8  # long documents per eval length
    eval_seed: int = 12345  # generator seed of the eval texts (apart from the training data's)


@dataclasses.dataclass
class SFTConfig:
    data: list[str] = field(default_factory=lambda: ["think:arithmetic"])  # JSONL of {"messages": [...]} or a trace generator
    max_examples: int = 4000  # examples drawn (generators) or kept (files; 0: all)
    max_len: int = 256  # examples longer than this are dropped (counted in the log)
    packing: bool = False  # pack examples into data.seq_len rows (off: one padded example per row)
    chat_template: str = "think"  # "think" (ChatML with <think> reasoning) or a path to a Jinja file


@dataclasses.dataclass
class MicroannealConfig:
    candidate: str = ""  # source under test: builtin generator (arithmetic:midtrain), file, or mix entry YAML
    baseline: str = "arithmetic:pretrain"  # the "web" source it is mixed with and compared against
    tokens: int = 200000  # anneal budget of each run (candidate run: half candidate, half baseline)
    candidate_share: float = 0.5  # the candidate's share of its run's budget
    text_field: str = "text"  # text field of file sources given on the command line


@dataclasses.dataclass
class SelectStudentConfig:
    buckets: int = 8192  # signed hashed-feature buckets
    ngram: int = 3  # word n-grams 1..ngram over the text's shape (numbers as <n>)
    raw_ngram: int = 0  # also raw word n-grams of this length (whole equations such as "7 + 5 = 12"); 0: none
    hidden: int = 32  # MLP width
    epochs: int = 200  # full-batch Adam steps
    lr: float = 0.02  # Adam learning rate
    weight_decay: float = 1.0e-5  # Adam weight decay
    holdout: float = 0.25  # share of each group's teacher labels held out to measure agreement


@dataclasses.dataclass
class SelectDiscoveryConfig:
    min_applicable: float = 0.3  # a dimension must apply to this share of a group's documents
    min_std: float = 0.25  # below this standard deviation of levels a dimension is constant in the group
    min_reliability: float = 0.8  # Spearman between two runs of a dimension (another seed) on the same documents
    max_redundancy: float = 0.9  # |Spearman| with a kept dimension at or above which a dimension is redundant
    max_dims: int = 5  # dimensions kept per group


@dataclasses.dataclass
class SelectConfig:
    scope: str = "source"  # source (MIRA: rubric and student per group, threshold per source) | global (ablation)
    groups: str = "category"  # category (the mix's category: fields) | auto (cluster source centroids)
    auto_threshold: float = 0.9  # auto: merge groups while their average centroid cosine is at least this
    group_docs: int = 256  # auto: documents per source in its centroid
    teacher_share: float = 0.1  # the teacher labels at most this share of each source's documents
    model_groups: list[str] = field(default_factory=list)  # groups where model.path's checkpoint also judges
    model_temperature: float = 0.7  # the model judge's sampling temperature (repeats measure its reliability)
    keep: float = 0.5  # share of each source's tokens kept (global scope: of all tokens)
    baselines: list[str] = field(default_factory=lambda: ["random", "global", "oracle"])  # extra arms written
    max_epochs: float = 4.0  # max_epochs of each entry in the written mix files
    seed: int = 0  # teacher sample, student init, tie-breaking and the random arm
    student: SelectStudentConfig = field(default_factory=SelectStudentConfig)
    discovery: SelectDiscoveryConfig = field(default_factory=SelectDiscoveryConfig)


@dataclasses.dataclass
class HardwareConfig:
    """What the recipe was sized for; `--cfg job` checks worker counts against it."""

    device: str = "cpu"  # cpu | gpu
    nodes: int = 1  # machines
    gpus_per_node: int = 0  # accelerators per machine (0 on CPU)
    gpu: str = ""  # e.g. H100-80GB
    notes: str = ""  # memory, interconnect, wall-clock estimate


@dataclasses.dataclass
class RecipeConfig:
    name: str = ""  # the recipe's name (its file name in conf/recipe/)
    stage: str = "midtrain"  # pretrain | midtrain | long_context | sft | microanneal | select
    description: str = ""  # one line on what the recipe is for
    model: RecipeModelConfig = field(default_factory=RecipeModelConfig)
    data: MixDataConfig = field(default_factory=MixDataConfig)
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)
    train: RecipeTrainConfig = field(default_factory=RecipeTrainConfig)
    learner: LearnerConfig = field(default_factory=recipe_learner)  # FSDP workers and optimiser: RL's schema
    eval: StageEvalConfig = field(default_factory=StageEvalConfig)
    long_context: LongContextConfig = field(default_factory=LongContextConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    microanneal: MicroannealConfig = field(default_factory=MicroannealConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    output_dir: str = ""  # where the stage writes; empty: runs/recipes/<name>/<timestamp>


ConfigStore.instance().store(name="rlvr_recipe_schema", node=RecipeConfig)


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def recipe_from(composed: DictConfig, name: str = "") -> RecipeConfig:
    """The typed, validated RecipeConfig of a composed recipe (from `compose_recipe` or a Hydra app)."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RecipeConfig), composed)
        cfg: RecipeConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        raise RecipeError(f"recipe {name or composed.get('name')!r}: {exc}") from None
    cfg.name = cfg.name or name
    validate(cfg)
    return cfg


def compose_recipe(name: str, overrides: list[str] | None = None) -> RecipeConfig:
    """The typed, validated RecipeConfig for conf/recipe/<name>.yaml with Hydra `overrides`."""
    if name not in list_recipes():
        raise RecipeError(f"unknown recipe {name!r}; known: {', '.join(list_recipes())} (in {RECIPE_DIR})")
    try:
        composed = hydra_app.compose("stage", [f"recipe={name}", *(overrides or [])])
    except (HydraException, OmegaConfBaseException) as exc:
        raise RecipeError(f"recipe {name!r}: {exc}") from None
    return recipe_from(composed, name)


def to_yaml(cfg: RecipeConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def resolve_mix_path(mix: str) -> Path:
    """A mix name (conf/recipe/mix/<name>.yaml) or a path (absolute, or relative to the cwd or conf/recipe)."""
    if not mix:
        raise RecipeError("data.mix is empty")
    if not mix.endswith((".yaml", ".yml")) and "/" not in mix:
        return RECIPE_DIR / "mix" / f"{mix}.yaml"
    path = Path(mix)
    if path.is_absolute() or path.exists():
        return path
    return RECIPE_DIR / path


def derived_steps(cfg: RecipeConfig, budget_tokens: int) -> int:
    """Optimizer steps when train.steps is 0: the budget in rows of seq_len, epochs times, per batch."""
    if cfg.train.steps > 0:
        return cfg.train.steps
    rows = budget_tokens / max(1, cfg.data.seq_len)
    return max(1, int(rows * cfg.train.epochs / max(1, cfg.train.batch_size)))


def validate(cfg: RecipeConfig) -> None:
    """Checks that need no data and no model: values, the mix file, the hardware sizing."""
    where = f"recipe {cfg.name!r}"

    def fail(key: str, message: str) -> None:
        raise RecipeError(f"{where}: {key}: {message}")

    if cfg.stage not in STAGES:
        fail("stage", f"unknown stage {cfg.stage!r}; expected one of {', '.join(STAGES)}")
    if cfg.model.init not in ("pretrained", "tiny", "config"):
        fail("model.init", f"unknown {cfg.model.init!r}; expected pretrained, tiny or config")
    if cfg.model.init != "tiny" and not cfg.model.path:
        fail("model.path", "empty; give a checkpoint, a hub id, 'base' or 'recipe:NAME' (or model.init=tiny)")
    _validate_training(cfg, fail)
    if cfg.data.seq_len < 2:
        fail("data.seq_len", f"must be >= 2, got {cfg.data.seq_len}")
    if cfg.decontamination.n < 1:
        fail("decontamination.n", f"must be >= 1, got {cfg.decontamination.n}")
    if cfg.eval.engine not in ("transformers", "vllm"):
        fail("eval.engine", f"unknown {cfg.eval.engine!r}; expected transformers or vllm")
    if cfg.stage in ("pretrain", "midtrain", "long_context"):
        mix = load_mix(resolve_mix_path(cfg.data.mix))
        if mix.needs_total() and cfg.data.total_tokens <= 0:
            fail("data.total_tokens", f"mix {cfg.data.mix!r} has weighted sources, so it needs a total budget")
    _validate_stage_section(cfg, fail)


def _validate_training(cfg: RecipeConfig, fail: Any) -> None:
    """train.* and learner.*, and the worker count against the hardware the recipe is sized for."""
    t, lr = cfg.train, cfg.learner
    for key, value in (("train.batch_size", t.batch_size), ("train.log_every", t.log_every),
                       ("learner.micro_batch_size", lr.micro_batch_size), ("learner.num_workers", lr.num_workers),
                       ("learner.threads_per_worker", lr.threads_per_worker)):
        if value < 1:
            fail(key, f"must be >= 1, got {value}")
    if t.batch_size % lr.num_workers:
        fail("train.batch_size", f"{t.batch_size} does not split evenly over learner.num_workers={lr.num_workers}")
    if lr.lr <= 0:
        fail("learner.lr", f"must be > 0, got {lr.lr}")
    if lr.lr_schedule not in ("cosine", "linear", "constant"):
        fail("learner.lr_schedule", f"unknown {lr.lr_schedule!r}; expected cosine, linear or constant")
    if lr.mixed_precision not in ("bf16", "fp32"):
        fail("learner.mixed_precision", f"unknown {lr.mixed_precision!r}; expected bf16 or fp32")
    if t.steps < 0 or t.epochs <= 0:
        fail("train.steps", "steps must be >= 0 and epochs > 0")
    hw = cfg.hardware
    if hw.device not in ("cpu", "gpu"):
        fail("hardware.device", f"unknown {hw.device!r}; expected cpu or gpu")
    if hw.device == "gpu":
        if hw.gpus_per_node < 1 or hw.nodes < 1:
            fail("hardware.gpus_per_node", "a GPU recipe needs nodes >= 1 and gpus_per_node >= 1")
        if lr.num_workers * lr.gpus_per_worker != hw.nodes * hw.gpus_per_node:
            fail("learner.num_workers", f"{lr.num_workers} workers x {lr.gpus_per_worker} GPUs do not use the "
                                        f"{hw.nodes} x {hw.gpus_per_node} GPUs the recipe is sized for")


def _validate_stage_section(cfg: RecipeConfig, fail: Any) -> None:
    """The section of the recipe's own stage: long_context, sft or microanneal."""
    if cfg.stage == "long_context":
        lc = cfg.long_context
        if lc.rope_type != "yarn":
            fail("long_context.rope_type", f"only 'yarn' is implemented, got {lc.rope_type!r}")
        if lc.factor <= 1.0:
            fail("long_context.factor", f"must be > 1, got {lc.factor}")
        if not lc.eval_lengths or min(lc.eval_lengths) < 2:
            fail("long_context.eval_lengths", f"need lengths >= 2, got {lc.eval_lengths}")
        if lc.original_max_position_embeddings and cfg.data.seq_len <= lc.original_max_position_embeddings:
            fail("data.seq_len", f"{cfg.data.seq_len} does not go beyond the original context "
                                 f"{lc.original_max_position_embeddings}; a long-context stage must")
    if cfg.stage == "sft":
        if not cfg.sft.data:
            fail("sft.data", "no SFT sources")
        if cfg.sft.max_len < 2:
            fail("sft.max_len", f"must be >= 2, got {cfg.sft.max_len}")
        if cfg.sft.chat_template != "think" and not Path(cfg.sft.chat_template).is_file():
            fail("sft.chat_template", f"{cfg.sft.chat_template!r} is neither 'think' nor a Jinja file")
    if cfg.stage == "select":
        _validate_select(cfg, fail)
    if cfg.stage == "microanneal":
        m = cfg.microanneal
        if not m.baseline:
            fail("microanneal.baseline", "empty")
        if m.tokens <= 0:
            fail("microanneal.tokens", f"must be > 0, got {m.tokens}")
        if not 0.0 < m.candidate_share < 1.0:
            fail("microanneal.candidate_share", f"must be in (0, 1), got {m.candidate_share}")


def _validate_select(cfg: RecipeConfig, fail: Any) -> None:
    """select.*: values, and a candidate pool whose generated sources have a fixed size (docs:)."""
    sel = cfg.select
    if sel.scope not in ("source", "global"):
        fail("select.scope", f"unknown {sel.scope!r}; expected source or global")
    if sel.groups not in ("category", "auto"):
        fail("select.groups", f"unknown {sel.groups!r}; expected category or auto")
    for key, value in (("select.keep", sel.keep), ("select.teacher_share", sel.teacher_share),
                       ("select.student.holdout", sel.student.holdout)):
        if not 0.0 < value < 1.0:
            fail(key, f"must be in (0, 1), got {value}")
    unknown = sorted(set(sel.baselines) - {"random", "global", "oracle"})
    if unknown:
        fail("select.baselines", f"unknown {unknown[0]!r}; expected random, global or oracle")
    if sel.student.buckets < 2 or sel.student.hidden < 1 or sel.student.ngram < 1:
        fail("select.student", "buckets >= 2, hidden >= 1 and ngram >= 1 are needed")
    for spec in load_mix(resolve_mix_path(cfg.data.mix)).sources:
        if spec.kind != "path" and spec.docs <= 0:
            fail("data.mix", f"{spec.where}: a candidate pool source needs a fixed size (docs: N) or a file")
