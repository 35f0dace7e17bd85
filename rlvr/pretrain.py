"""`rlvr pretrain`: the tiny base checkpoint RL-Zero starts from, made here since nothing can be
downloaded. Trains a BPE tokenizer and a Qwen2-architecture model on a synthetic corpus
(datasets/<corpus>.py `pretrain_corpus`) with the FSDP causal-LM trainer, and caches the result
under a key of its config, so the main job builds it once.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import shutil
from pathlib import Path

from rlvr.config import BaseModelConfig
from rlvr.paths import cache_dir

log = logging.getLogger(__name__)
RECIPE_VERSION = "1"  # bump when the corpus or the recipe changes in a way the config does not show


def cache_key(base: BaseModelConfig) -> str:
    blob = json.dumps({"v": RECIPE_VERSION, **dataclasses.asdict(base)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_base(base: BaseModelConfig, out_dir: str | Path) -> str:
    """Tokenizer + init + pretraining; returns the final checkpoint dir (HF format)."""
    from rlvr.data.builtin import load_builtin
    from rlvr.data.packing import pack_documents
    from rlvr.models.tiny import init_model, tiny_qwen2_config
    from rlvr.models.tokenizer import train_tokenizer
    from rlvr.config import LearnerConfig
    from rlvr.learner.causal_lm import CausalLMConfig, train_causal_lm

    out = Path(out_dir)
    corpus = load_builtin(base.corpus)
    docs = corpus.pretrain_corpus(base.corpus_docs, base.seed)
    tok = train_tokenizer(docs, vocab_size=base.vocab_size, out_dir=out / "init")
    head_dim = base.hidden_size // base.num_heads
    config = tiny_qwen2_config(len(tok), hidden_size=base.hidden_size, num_layers=base.num_layers,
                               num_heads=base.num_heads, head_dim=head_dim, intermediate_size=base.intermediate_size,
                               max_position_embeddings=base.max_position_embeddings,
                               eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                               pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    init_model(config, base.seed).save_pretrained(out / "init")
    token_lists = tok(docs, add_special_tokens=False)["input_ids"]
    rows = pack_documents(token_lists, base.seq_len, tok.eos_token_id)
    cfg = CausalLMConfig(steps=base.steps, batch_size=base.batch_size, seed=base.seed, log_every=100,
                         learner=LearnerConfig(num_workers=base.num_workers, threads_per_worker=base.threads_per_worker,
                                               lr=base.lr, warmup_steps=base.warmup_steps, lr_schedule="cosine",
                                               weight_decay=0.01, betas=[0.9, 0.95], grad_clip=1.0,
                                               micro_batch_size=max(1, base.batch_size // base.num_workers)))
    log.info("pretraining the base: %d docs, %d packed rows of %d tokens, %d steps", len(docs), len(rows),
             base.seq_len, base.steps)
    return train_causal_lm(str(out / "init"), rows, cfg, out)


def ensure_base_checkpoint(base: BaseModelConfig) -> str:
    """The cached base for this config, building it (under a file lock) when missing."""
    root = cache_dir() / "base" / cache_key(base)
    final = root / "final"
    if (root / "DONE").exists():
        return str(final)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / "DONE").exists():
            return str(final)
        from rlvr.placement import init_ray

        init_ray(needed_cpus=base.num_workers + 1)
        tmp = root / "building"
        shutil.rmtree(tmp, ignore_errors=True)
        path = Path(build_base(base, tmp))
        shutil.rmtree(final, ignore_errors=True)
        path.rename(final)
        (root / "config.json").write_text(json.dumps(dataclasses.asdict(base), indent=2))
        (root / "DONE").write_text("ok\n")
        shutil.rmtree(tmp, ignore_errors=True)
    return str(final)
