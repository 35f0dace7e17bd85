"""Data mixes: a YAML list of sources, tokenised with the model's tokenizer and sampled to token budgets.

A mix file is a list of entries (or a mapping with ``sources:`` and an optional ``total_tokens:``):

    - name: math                    # unique in the mix
      builtin: arithmetic:midtrain  # exactly one of builtin / path / hf (see rlvr/recipes/sources.py)
      weight: 60                    # a share of the total budget (normalised over weighted entries) ...
    - name: web
      path: data/web.jsonl
      text_field: text              # or template: "Q: {question}\\nA: {answer}"
      tokens: 50000                 # ... or a fixed token budget
      max_epochs: 2                 # how often a small pool may repeat to meet its budget (default 1)

Optional per entry: ``category`` (free text such as math / code / qa / thinking / instruction / web,
kept in the manifest), ``docs`` (a generator's pool size; default: enough for the budget), ``join``
(glue that many consecutive documents into one long document), ``hf_config``, ``hf_split``.

Token counts are counted as packed: a document's tokens plus the end-of-text token the packer adds.
A source takes whole documents in a seeded order until its budget is reached (so it overshoots by
less than one document); a pool smaller than its budget is repeated in fresh orders up to
``max_epochs`` times, and beyond that the mix is an error rather than silently short.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from pathlib import Path
from typing import Any, Callable, Sequence

from rlvr.recipes.sources import GENERATOR_CHUNK, MixError, file_texts, generator_for, hf_texts, sha256_file

KINDS = ("builtin", "path", "hf")
KEYS = {"name", "category", "builtin", "path", "hf", "text_field", "template", "tokens", "weight", "max_epochs",
        "docs", "join", "hf_config", "hf_split", "notes"}
TOKENIZE_CHUNK = 2000


@dataclasses.dataclass
class SourceSpec:
    name: str
    kind: str  # builtin | path | hf
    location: str  # "arithmetic:pretrain", a file path, or a hub dataset name
    where: str  # "<mix file>: sources[i] (name ...)" for error messages
    text_field: str = "text"
    template: str = ""
    tokens: int = 0
    weight: float = 0.0
    max_epochs: float = 1.0
    docs: int = 0
    join: int = 1
    hf_config: str = ""
    hf_split: str = "train"
    category: str = ""


@dataclasses.dataclass
class Mix:
    path: str
    sources: list[SourceSpec]
    total_tokens: int = 0  # from the file; a recipe's data.total_tokens overrides it
    sha256: str = ""

    def needs_total(self) -> bool:
        return any(s.weight > 0 for s in self.sources) and self.total_tokens <= 0

    def budgets(self, total_tokens: int = 0) -> list[int]:
        """Tokens per source: fixed budgets as given, weights sharing what the total leaves."""
        total = total_tokens or self.total_tokens
        fixed = sum(s.tokens for s in self.sources)
        weights = sum(s.weight for s in self.sources)
        if weights > 0:
            if total <= 0:
                raise MixError(f"{self.path}: weighted sources need a total token budget (total_tokens)")
            if total <= fixed:
                raise MixError(f"{self.path}: total_tokens={total} leaves nothing for the weighted sources "
                               f"after {fixed} fixed tokens")
        left = total - fixed
        return [s.tokens if s.tokens else int(round(left * s.weight / weights)) for s in self.sources]


@dataclasses.dataclass
class MixDoc:
    source: str
    text: str
    ids: list[int]


@dataclasses.dataclass
class MixResult:
    docs: list[MixDoc]
    manifest: dict[str, Any]


def _entry(path: str, index: int, raw: Any, root: Path) -> SourceSpec:
    where = f"{path}: sources[{index}]"
    if not isinstance(raw, dict):
        raise MixError(f"{where}: expected a mapping with name and builtin/path/hf, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MixError(f"{where}: field 'name': missing or not a non-empty string")
    where = f"{path}: sources[{index}] ({name})"
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise MixError(f"{where}: field {unknown[0]!r}: unknown key; known: {', '.join(sorted(KEYS))}")
    kinds = [k for k in KINDS if raw.get(k) is not None]
    if len(kinds) != 1:
        raise MixError(f"{where}: field 'builtin/path/hf': give exactly one, got {kinds or 'none'}")
    kind = kinds[0]
    location = raw[kind]
    if not isinstance(location, str) or not location:
        raise MixError(f"{where}: field {kind!r}: must be a non-empty string")
    if kind == "path" and not Path(location).is_absolute():
        location = str(root / location) if not Path(location).exists() else location

    def number(key: str, cast: Callable[[Any], Any], default: Any, low: float, strict: bool = False) -> Any:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MixError(f"{where}: field {key!r}: must be a number, got {value!r}")
        if value < low or (strict and value == low):
            raise MixError(f"{where}: field {key!r}: must be {'>' if strict else '>='} {low}, got {value}")
        if cast is int and float(value) != int(value):
            raise MixError(f"{where}: field {key!r}: must be a whole number, got {value}")
        return cast(value)

    has_tokens, has_weight = raw.get("tokens") is not None, raw.get("weight") is not None
    if has_tokens == has_weight:
        raise MixError(f"{where}: field 'tokens/weight': give exactly one (a token budget or a weight)")
    spec = SourceSpec(
        name=name, kind=kind, location=location, where=where,
        tokens=number("tokens", int, 0, 0, strict=True) if has_tokens else 0,
        weight=number("weight", float, 0.0, 0.0, strict=True) if has_weight else 0.0,
        max_epochs=number("max_epochs", float, 1.0, 0.0, strict=True),
        docs=number("docs", int, 0, 0), join=number("join", int, 1, 1),
    )
    for key in ("text_field", "template", "hf_config", "hf_split", "category"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise MixError(f"{where}: field {key!r}: must be a string, got {raw[key]!r}")
            setattr(spec, key, raw[key])
    if "{" in spec.template and "}" not in spec.template:
        raise MixError(f"{where}: field 'template': unbalanced braces in {spec.template!r}")
    if kind == "path" and not spec.location.endswith((".jsonl", ".parquet")):
        raise MixError(f"{where}: field 'path': {spec.location} is not a .jsonl or .parquet file")
    if kind == "builtin" and ":" not in spec.location:
        raise MixError(f"{where}: field 'builtin': expected NAME:WHAT (e.g. arithmetic:pretrain), got {spec.location!r}")
    return spec


def parse_mix(raw: Any, path: str, root: Path | None = None) -> Mix:
    """A Mix from already-loaded YAML (a list of entries, or {sources: [...], total_tokens: N})."""
    total = 0
    if isinstance(raw, dict):
        unknown = sorted(set(raw) - {"sources", "total_tokens", "description"})
        if unknown:
            raise MixError(f"{path}: field {unknown[0]!r}: unknown top-level key (sources, total_tokens, description)")
        total = raw.get("total_tokens", 0) or 0
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise MixError(f"{path}: field 'total_tokens': must be a non-negative integer, got {total!r}")
        raw = raw.get("sources")
    if not isinstance(raw, list) or not raw:
        raise MixError(f"{path}: expected a non-empty list of sources")
    base = root or Path(path).parent
    sources = [_entry(path, i, entry, base) for i, entry in enumerate(raw)]
    seen: dict[str, int] = {}
    for i, s in enumerate(sources):
        if s.name in seen:
            raise MixError(f"{s.where}: field 'name': {s.name!r} repeats sources[{seen[s.name]}]")
        seen[s.name] = i
    return Mix(path=path, sources=sources, total_tokens=total)


def load_mix(path: str | Path) -> Mix:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MixError(f"{path}: mix file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MixError(f"{path}: not valid YAML ({exc})") from None
    mix = parse_mix(raw, str(path), path.parent)
    mix.sha256 = sha256_file(path)
    return mix


def source_seed(seed: int, name: str) -> int:
    """Independent, stable seeds per source: adding a source never reshuffles the others."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:4], "big")


def tokenize(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    out: list[list[int]] = []
    for k in range(0, len(texts), TOKENIZE_CHUNK):
        out.extend(list(ids) for ids in tokenizer(list(texts[k:k + TOKENIZE_CHUNK]), add_special_tokens=False)["input_ids"])
    return out


def packed_length(ids: Sequence[int], eos_id: int | None) -> int:
    return len(ids) + (0 if ids and ids[-1] == eos_id else 1)


def join_texts(texts: list[str], join: int) -> list[str]:
    """Consecutive groups of `join` documents glued into one (long-context data)."""
    if join <= 1:
        return texts
    return ["\n\n".join(texts[k:k + join]) for k in range(0, len(texts) - join + 1, join)]


def load_pool(spec: SourceSpec, seed: int, budget: int, count: Callable[[list[str]], int],
              keep: Callable[[SourceSpec, list[str]], list[str]] | None = None, limit_docs: int = 0) -> tuple[list[str], Path | None]:
    """The texts a source can give: a file's rows, or enough generated documents for `budget` tokens.

    `count(texts)` measures tokens as packed; `keep(spec, texts)` filters (decontamination). `limit_docs`
    caps the pool (the tokenizer sample of a tiny base). Returns (texts, the file to hash, if any).
    """
    filt = keep or (lambda _s, texts: texts)
    if spec.kind == "path":
        texts = join_texts(file_texts(spec.where, Path(spec.location), spec.text_field, spec.template), spec.join)
        return filt(spec, texts[:limit_docs] if limit_docs else texts), Path(spec.location)
    if spec.kind == "hf":
        need = budget / max(spec.max_epochs, 1e-9)
        texts = hf_texts(spec.where, spec.location, spec.hf_config, spec.hf_split, spec.text_field, spec.template,
                         lambda got: bool(limit_docs and len(got) >= limit_docs) or count(join_texts(got, spec.join)) >= need)
        return filt(spec, join_texts(texts, spec.join)[:limit_docs or None]), None
    generate, origin = generator_for(spec.where, spec.location, spec.text_field, spec.template)
    if limit_docs:
        return filt(spec, join_texts(generate(limit_docs * spec.join, seed), spec.join)), origin
    n = spec.docs * spec.join
    if not n:
        probe = join_texts(generate(GENERATOR_CHUNK * spec.join, seed), spec.join)
        per_doc = max(1.0, count(probe) / max(1, len(probe)))
        n = (int(math.ceil(budget / per_doc * 1.15)) + 64) * spec.join
    for _ in range(6):
        texts = filt(spec, join_texts(generate(n, seed), spec.join))
        if spec.docs or count(texts) >= budget:
            return texts, origin
        n = int(n * 1.5) + 64  # decontamination dropped more than the margin: draw more
    return texts, origin


def sample_to_budget(lengths: Sequence[int], budget: int, max_epochs: float, rng: random.Random,
                     where: str) -> tuple[list[int], float]:
    """Indices of whole documents in seeded order until `budget` tokens; (indices, epochs used)."""
    pool_tokens = sum(lengths)
    if pool_tokens <= 0:
        raise MixError(f"{where}: the source has no tokens")
    if budget > pool_tokens * max_epochs:
        raise MixError(f"{where}: field 'tokens/weight': budget {budget} tokens needs "
                       f"{budget / pool_tokens:.2f} epochs of a {pool_tokens}-token pool, more than "
                       f"max_epochs={max_epochs:g}; raise max_epochs or lower the budget")
    chosen: list[int] = []
    got = 0
    passes = 0
    while got < budget:
        order = list(range(len(lengths)))
        rng.shuffle(order)
        passes += 1
        for i in order:
            if got >= budget:
                break
            chosen.append(i)
            got += lengths[i]
    return chosen, got / pool_tokens


def build_mix(mix: Mix, tokenizer: Any, total_tokens: int = 0, seed: int = 0,
              keep: Callable[[SourceSpec, list[str]], list[str]] | None = None) -> MixResult:
    """Tokenise every source with `tokenizer` and sample each to its budget; the docs and a manifest."""
    eos = getattr(tokenizer, "eos_token_id", None)

    def count(texts: list[str]) -> int:
        return sum(packed_length(ids, eos) for ids in tokenize(tokenizer, texts))

    docs: list[MixDoc] = []
    rows: list[dict[str, Any]] = []
    for spec, budget in zip(mix.sources, mix.budgets(total_tokens)):
        sseed = source_seed(seed, spec.name)
        texts, origin = load_pool(spec, sseed, budget, count, keep)
        ids = tokenize(tokenizer, texts)
        lengths = [packed_length(x, eos) for x in ids]
        chosen, epochs = sample_to_budget(lengths, budget, spec.max_epochs, random.Random(sseed), spec.where)
        docs.extend(MixDoc(spec.name, texts[i], ids[i]) for i in chosen)
        rows.append({
            "name": spec.name, "category": spec.category, "kind": spec.kind, "location": spec.location,
            "sha256": sha256_file(origin) if origin is not None else None,
            "budget_tokens": budget, "weight": spec.weight or None,
            "docs": len(chosen), "unique_docs": len(set(chosen)), "tokens": sum(lengths[i] for i in chosen),
            "epochs": round(epochs, 4), "pool_docs": len(texts), "pool_tokens": sum(lengths),
        })
    total = sum(r["tokens"] for r in rows)
    for r in rows:
        r["share"] = round(r["tokens"] / max(1, total), 6)
    manifest = {
        "mix_file": mix.path, "mix_sha256": mix.sha256 or None, "seed": seed,
        "tokenizer": getattr(tokenizer, "name_or_path", "") or None,
        "budget_tokens": int(total_tokens or mix.total_tokens or sum(r["budget_tokens"] for r in rows)),
        "docs": len(docs), "tokens": total, "sources": rows,
    }
    return MixResult(docs=docs, manifest=manifest)


def training_texts(mix: Mix, seed: int, per_source_docs: int) -> list[str]:
    """A sample of every source (weighted sources by weight) to train a new tokenizer on."""
    weights = [s.weight or 1.0 for s in mix.sources]
    total = sum(weights)
    texts: list[str] = []
    for spec, w in zip(mix.sources, weights):
        n = max(1, int(per_source_docs * len(mix.sources) * w / total))
        pool, _ = load_pool(spec, source_seed(seed, spec.name) + 1, 0, lambda t: 0, None, limit_docs=n)
        texts.extend(pool[:n])
    return texts
