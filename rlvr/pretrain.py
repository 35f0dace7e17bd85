"""`rlvr pretrain`: the tiny base checkpoint RL-Zero starts from, made here since nothing can be
downloaded. A BPE tokenizer and a Qwen2-architecture model (rlvr.models.tiny.make_tiny_checkpoint)
are trained on a synthetic corpus (datasets/<corpus>.py `pretrain_corpus`) with the FSDP causal-LM
trainer, and cached (rlvr.cache) under a key of the config, so the main job builds it once.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from rlvr import cache
from rlvr.config import BaseModelConfig, LearnerConfig
from rlvr.data.builtin import load_builtin
from rlvr.data.packing import pack_documents
from rlvr.learner.causal_lm import CausalLMConfig, train_causal_lm
from rlvr.models.tiny import make_tiny_checkpoint
from rlvr.paths import cache_dir
from rlvr.placement import init_ray

log = logging.getLogger(__name__)
RECIPE_VERSION = "1"  # bump when the corpus or the recipe changes in a way the config does not show


def cache_key(base: BaseModelConfig) -> str:
    return cache.key({"v": RECIPE_VERSION, **dataclasses.asdict(base)})


def base_root(base: BaseModelConfig) -> Path:
    return cache_dir() / "base" / cache_key(base)


def causal_lm_settings(base: BaseModelConfig) -> CausalLMConfig:
    """The base's training settings: cosine schedule, AdamW betas (0.9, 0.95), decay 0.01, clip 1."""
    learner = LearnerConfig(num_workers=base.num_workers, threads_per_worker=base.threads_per_worker, lr=base.lr,
                            warmup_steps=base.warmup_steps, lr_schedule="cosine", weight_decay=0.01, grad_clip=1.0,
                            betas=[0.9, 0.95], micro_batch_size=max(1, base.batch_size // base.num_workers),
                            mixed_precision="bf16")
    return CausalLMConfig(steps=base.steps, batch_size=base.batch_size, log_every=100, seed=base.seed,
                          learner=learner)


def build_base(base: BaseModelConfig, out_dir: str | Path) -> str:
    """Tokenizer + init + pretraining; returns the final checkpoint dir (HF format)."""
    out = Path(out_dir)
    docs = load_builtin(base.corpus).pretrain_corpus(base.corpus_docs, base.seed)
    tok = make_tiny_checkpoint(docs, out / "init", vocab_size=base.vocab_size, hidden_size=base.hidden_size,
                               num_layers=base.num_layers, num_heads=base.num_heads,
                               intermediate_size=base.intermediate_size,
                               max_position_embeddings=base.max_position_embeddings, seed=base.seed)
    token_lists = tok(docs, add_special_tokens=False)["input_ids"]
    rows = pack_documents(token_lists, base.seq_len, tok.eos_token_id)
    log.info("pretraining the base: %d docs, %d packed rows of %d tokens, %d steps", len(docs), len(rows),
             base.seq_len, base.steps)
    return train_causal_lm(str(out / "init"), rows, causal_lm_settings(base), out)


def ensure_base_checkpoint(base: BaseModelConfig) -> str:
    """The cached base for this config, building it when missing."""

    def build(root: Path) -> None:
        init_ray(needed_cpus=base.num_workers + 1)
        tmp = root / "building"
        shutil.rmtree(tmp, ignore_errors=True)
        path = Path(build_base(base, tmp))
        shutil.rmtree(root / "final", ignore_errors=True)
        path.rename(root / "final")
        (root / "config.json").write_text(json.dumps(dataclasses.asdict(base), indent=2))
        shutil.rmtree(tmp, ignore_errors=True)

    root = base_root(base)
    cache.build_once(root, build)
    return str(root / "final")


def built_base(base: BaseModelConfig) -> str | None:
    """The cached base's path, or None when it is not built yet (never builds)."""
    root = base_root(base)
    return str(root / "final") if cache.is_built(root) else None
