"""Long-context extension with YaRN RoPE scaling, and perplexity at lengths beyond the old limit.

transformers 5 keeps RoPE settings in ``config.rope_parameters`` (the v4 ``rope_scaling`` dict is
read for old checkpoints and converted). YaRN needs ``rope_type: "yarn"``, ``factor`` and
``original_max_position_embeddings`` (the length the model was trained at); the new context,
``max_position_embeddings``, is original * factor. vLLM reads the same config.json fields.

The recipe writes a copy of the start checkpoint whose config carries YaRN, trains it on a mix of
long documents (mix entries with ``join: N`` glue N documents into one) and short ones, and
measures perplexity at each of ``long_context.eval_lengths`` for the start checkpoint as it was,
with YaRN switched on but untrained, and after training. ``ppl_beyond`` is over the positions at
or past the original limit only, where an unextended model degrades.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any, Sequence

import torch

from rlvr.recipes.merge import TOKENIZER_FILES
from rlvr.recipes.sources import file_texts, generator_for


def yarn_parameters(config: Any, factor: float, original: int = 0, beta_fast: float = 32.0,
                    beta_slow: float = 1.0) -> dict[str, Any]:
    """The rope_parameters dict that turns on YaRN for `config` (a transformers PretrainedConfig)."""
    if factor <= 1.0:
        raise ValueError(f"YaRN factor must be > 1, got {factor}")
    current = dict(getattr(config, "rope_parameters", None) or {})
    theta = current.get("rope_theta", getattr(config, "rope_theta", None) or 10000.0)
    original = int(original or current.get("original_max_position_embeddings") or config.max_position_embeddings)
    return {"rope_type": "yarn", "rope_theta": float(theta), "factor": float(factor),
            "original_max_position_embeddings": original, "beta_fast": float(beta_fast),
            "beta_slow": float(beta_slow)}


def apply_yarn(src: str | Path, dst: str | Path, factor: float, original: int = 0, beta_fast: float = 32.0,
               beta_slow: float = 1.0) -> Path:
    """Copy checkpoint `src` to `dst` with YaRN in its config and max_position_embeddings = original * factor."""
    from transformers import AutoConfig

    src, dst = Path(src), Path(dst)
    config = AutoConfig.from_pretrained(str(src))
    params = yarn_parameters(config, factor, original, beta_fast, beta_slow)
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and (f.suffix == ".safetensors" or f.name.endswith(".index.json") or f.name in TOKENIZER_FILES
                            or f.name == "generation_config.json"):
            shutil.copy2(f, dst / f.name)
    config.rope_parameters = params
    config.max_position_embeddings = int(round(params["original_max_position_embeddings"] * factor))
    config.save_pretrained(str(dst))
    return dst


def long_eval_docs(tokenizer: Any, source: str, length: int, count: int, seed: int) -> list[list[int]]:
    """`count` held-out texts of `length` tokens: a file's documents (field `text`) or a generator's, joined
    in order until each reaches `length` (a long document stays one text; short ones are glued)."""
    where = f"long_context.eval_source {source!r}"
    if source.endswith((".jsonl", ".parquet")):
        texts = file_texts(where, Path(source), "text", "")
    else:
        generate, _ = generator_for(where, source, "text", "")
        texts = generate(count * 64, seed)
    docs: list[list[int]] = []
    cur: list[int] = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        cur.extend(list(ids) + tokenizer("\n\n", add_special_tokens=False)["input_ids"])
        if len(cur) >= length:
            docs.append(cur[:length])
            cur = []
            if len(docs) == count:
                return docs
    raise ValueError(f"long_context eval: {source!r} gave only {len(docs)} documents of {length} tokens")


@torch.no_grad()
def perplexity(model_path: str | Path, docs: Sequence[Sequence[int]], lengths: Sequence[int], original: int,
               config_overrides: dict[str, Any] | None = None) -> dict[int, dict[str, float]]:
    """Per length L: perplexity over the first L tokens of each doc, and over positions >= `original` only."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(model_path))
    for key, value in (config_overrides or {}).items():
        setattr(config, key, value)
    model = AutoModelForCausalLM.from_pretrained(str(model_path), config=config, dtype=torch.float32).eval()
    out: dict[int, dict[str, float]] = {}
    for length in lengths:
        ids = torch.tensor([list(d[:length]) for d in docs], dtype=torch.long)
        if ids.shape[1] < length:
            raise ValueError(f"eval documents are shorter than {length} tokens")
        logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                reduction="none").view(ids.shape[0], -1)
        row = {"ppl": math.exp(float(nll.mean()))}
        # nll[:, j] predicts token j+1: positions at or beyond `original` are j >= original - 1.
        beyond = nll[:, max(0, original - 1):]
        row["ppl_beyond"] = math.exp(float(beyond.mean())) if beyond.numel() else float("nan")
        out[int(length)] = row
    return out


def format_table(results: dict[str, dict[int, dict[str, float]]], original: int) -> str:
    lengths = sorted({n for r in results.values() for n in r})
    head = f"{'checkpoint':<28}" + "".join(f"{'ppl@' + str(n):>12}" for n in lengths)
    lines = [f"perplexity by context length (original limit {original}; >limit: only positions past it)", head]
    for name, rows in results.items():
        cells = []
        for n in lengths:
            r = rows.get(n)
            cells.append(f"{r['ppl']:>12.3f}" if r else f"{'-':>12}")
        lines.append(f"{name:<28}" + "".join(cells))
        if any(n > original for n in lengths):
            lines.append(f"{'  (>limit)':<28}" + "".join(
                f"{rows[n]['ppl_beyond']:>12.3f}" if n in rows and n > original else f"{'':>12}" for n in lengths))
    return "\n".join(lines)
