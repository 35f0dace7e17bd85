"""Model souping: a weighted average of checkpoints of one architecture, written as a new HF checkpoint.

Olmo 3 averages two midtraining runs (different data-order seeds), the last checkpoints of the
long-context run, and two SFT runs at different learning rates. `merge_checkpoints` does the
linear case: out = sum_i w_i * theta_i with weights normalised to sum to 1, computed in float64
and cast back to each tensor's dtype. Tensors are read one name at a time from the safetensors
files, so memory holds the output plus one tensor per input, not every input model.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Sequence

import torch

log = logging.getLogger(__name__)
ARCH_KEYS = ("architectures", "model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
             "num_key_value_heads", "intermediate_size", "head_dim", "tie_word_embeddings")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json")


class MergeError(ValueError):
    """Checkpoints that cannot be averaged; the message names the checkpoint and the tensor or key."""


def _weight_files(path: Path) -> dict[str, Path]:
    """tensor name -> the safetensors file holding it (single file or sharded with an index)."""
    index = path / "model.safetensors.index.json"
    if index.is_file():
        mapping = json.loads(index.read_text())["weight_map"]
        return {name: path / fname for name, fname in mapping.items()}
    single = path / "model.safetensors"
    if not single.is_file():
        raise MergeError(f"{path}: no model.safetensors or model.safetensors.index.json (only safetensors "
                         "checkpoints can be merged)")
    from safetensors import safe_open

    with safe_open(str(single), framework="pt") as f:
        return {name: single for name in f.keys()}


def _config(path: Path) -> dict:
    cfg = path / "config.json"
    if not cfg.is_file():
        raise MergeError(f"{path}: no config.json")
    return json.loads(cfg.read_text())


def normalise_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    if weights is None or len(weights) == 0:
        return [1.0 / count] * count
    if len(weights) != count:
        raise MergeError(f"{len(weights)} weights for {count} checkpoints")
    if any(w < 0 for w in weights):
        raise MergeError(f"weights must be >= 0, got {list(weights)}")
    total = float(sum(weights))
    if total <= 0:
        raise MergeError(f"weights must not all be 0, got {list(weights)}")
    return [float(w) / total for w in weights]


def check_compatible(paths: Sequence[Path]) -> dict[str, Path]:
    """The first checkpoint's tensor files; raises if any other differs in architecture, names or shapes."""
    from safetensors import safe_open

    first_cfg = _config(paths[0])
    first = _weight_files(paths[0])
    shapes: dict[str, tuple[int, ...]] = {}
    for name, file in first.items():
        with safe_open(str(file), framework="pt") as f:
            shapes[name] = tuple(f.get_slice(name).get_shape())
    for path in paths[1:]:
        cfg = _config(path)
        for key in ARCH_KEYS:
            if cfg.get(key) != first_cfg.get(key):
                raise MergeError(f"{path}: config {key}={cfg.get(key)!r} differs from {paths[0]} ({first_cfg.get(key)!r})")
        files = _weight_files(path)
        missing = sorted(set(first) ^ set(files))
        if missing:
            raise MergeError(f"{path}: tensor {missing[0]!r} is in one checkpoint and not the other ({paths[0]})")
        for name, file in files.items():
            with safe_open(str(file), framework="pt") as f:
                shape = tuple(f.get_slice(name).get_shape())
            if shape != shapes[name]:
                raise MergeError(f"{path}: tensor {name!r} has shape {list(shape)}, {paths[0]} has {list(shapes[name])}")
    return first


def merge_checkpoints(paths: Sequence[str | Path], out_dir: str | Path, weights: Sequence[float] | None = None,
                      max_shard_size: str = "5GB") -> Path:
    """Average `paths` (uniform, or by `weights`) into `out_dir`; config and tokenizer come from the first."""
    if len(paths) < 2:
        raise MergeError(f"merging needs at least two checkpoints, got {len(paths)}")
    dirs = [Path(p) for p in paths]
    for d in dirs:
        if not d.is_dir():
            raise MergeError(f"{d}: not a checkpoint directory")
    w = normalise_weights(weights, len(dirs))
    first = check_compatible(dirs)
    files = [first] + [_weight_files(d) for d in dirs[1:]]
    from safetensors import safe_open

    handles: dict[Path, object] = {}
    merged: dict[str, torch.Tensor] = {}
    try:
        for name in first:
            acc = None
            dtype = None
            for weight, mapping in zip(w, files):
                file = mapping[name]
                if file not in handles:
                    handles[file] = safe_open(str(file), framework="pt").__enter__()
                tensor = handles[file].get_tensor(name)  # type: ignore[attr-defined]
                dtype = dtype or tensor.dtype
                part = tensor.to(torch.float64) * weight
                acc = part if acc is None else acc + part
            assert acc is not None and dtype is not None
            merged[name] = acc.to(dtype) if dtype.is_floating_point else acc.round().to(dtype)
    finally:
        for h in handles.values():
            h.__exit__(None, None, None)  # type: ignore[attr-defined]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from huggingface_hub import save_torch_state_dict

    save_torch_state_dict(merged, str(out), max_shard_size=max_shard_size)
    for fname in ("config.json", "generation_config.json", *TOKENIZER_FILES):
        if (dirs[0] / fname).is_file():
            shutil.copy2(dirs[0] / fname, out / fname)
    (out / "merge.json").write_text(json.dumps({"method": "linear", "checkpoints": [str(d) for d in dirs],
                                                 "weights": w}, indent=2))
    log.info("merged %d checkpoints into %s (weights %s)", len(dirs), out, w)
    return out
