"""Prompt sets for RL and evaluation: rows from a built-in generator, a user's file or a public benchmark.

``load_prompts(source, split, n, seed)`` understands three kinds of ``source``:

* a built-in dataset name, e.g. ``"arithmetic"`` (see :mod:`rlvr.data.builtin`);
* a path ending in ``.jsonl``, ``.json`` or ``.parquet``, a ``save_to_disk`` folder or a Hub dataset
  ``hf:ORG/NAME[:CONFIG][:SPLIT]`` (without SPLIT: ``train``, and ``test`` for the eval split), whose rows are
  plain, verl or open-instruct rows (:mod:`rlvr.data.formats`);
* a public benchmark, ``"gsm8k"``, ``"minerva_math"``, ``"aime24"`` or ``"amc23"``, optionally with an explicit
  file or Hub name: ``"gsm8k:/path/to/test.jsonl"``, ``"gsm8k:hf:openai/gsm8k:main"``. Without a path the file is ``<data root>/<name>/<split>.jsonl``, the
  data root being ``$RLVR_DATA_DIR`` or the sets shipped in ``datasets/public`` (their test splits, with their
  licences). A public set's held-out split is its test split, so ``split="eval"`` reads ``test.jsonl``.

``load_prompt_set`` renders each row (plain template, or the tokenizer's chat template: :class:`Rendering`),
adds the token ids the engines take and the stop strings (:func:`stop_strings`, :func:`chat_stops`), and checks
every prompt fits the context; ``load_prompt_sets`` makes the trainer's (train, eval) pair from its ``data``
config.

Bad rows raise :class:`DataError` naming the file, the 1-based row (the line number for JSONL) and the field;
no row is ever dropped silently (prompts over the context only with data.drop_long_prompts, counted and logged). Files are read by :func:`rlvr.data.reader.read_rows`.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import random
from pathlib import Path
from typing import Any, Callable, Iterable

from rlvr.data.builtin import find_builtin, load_builtin
from rlvr.data.formats import FORMATS, Context, answer_value, detect_format, read_row, source_stem, text_field
from rlvr.data.reader import HUB_PREFIX, DataError, read_rows
from rlvr.paths import DATASETS_DIR

log = logging.getLogger(__name__)

# Used when a file row gives a bare question; matches the arithmetic task's plain RL-Zero wording.
DEFAULT_PROMPT_TEMPLATE = "Solve the problem. Finish with a line 'Answer: <answer>'.\n\nQuestion: {question}\nSolution:"
DEFAULT_STOP = ["\n\n", "Question:"]  # the default template's response ends before a blank line or a new question
DEFAULT_N = 1000  # rows drawn from a generator when n is None
PUBLIC_SETS = ("gsm8k", "minerva_math", "aime24", "amc23")
FILE_SUFFIXES = (".jsonl", ".json", ".parquet")

__all__ = ["DEFAULT_PROMPT_TEMPLATE", "DEFAULT_STOP", "PUBLIC_SETS", "DataError", "PromptRow", "PromptSet",
           "Rendering", "TokenizedPrompt", "chat_stops", "data_root", "load_prompt_set", "load_prompt_sets", "load_prompts", "stop_strings"]


@dataclasses.dataclass(frozen=True)
class PromptRow:
    id: str
    prompt: str  # the text sent to the model without a chat template ("" when only a chat template can render it)
    ground_truth: Any  # what the verifier takes: text, a list of alternatives, or an object (IFEval / code spec)
    verifier: str
    question: str  # the bare question (last user message), for chat templates and recipes
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    messages: list[dict[str, str]] | None = None  # the row's own chat messages (verl / open-instruct rows)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizedPrompt(PromptRow):
    """A row plus the token ids of its ``prompt``, tokenized once for the engines."""

    prompt_ids: list[int]


@dataclasses.dataclass
class PromptSet:
    rows: list[TokenizedPrompt]
    stop: list[str]  # the source's stop strings (callers may add their own, e.g. rollout.stop)
    dropped_long: int = 0  # rows left out for not fitting the context (data.drop_long_prompts)


@dataclasses.dataclass(frozen=True)
class Rendering:
    """How rows become the text the model sees, and the room they must fit in."""

    template: str = ""  # plain template for bare questions ("" = DEFAULT_PROMPT_TEMPLATE)
    chat: bool = False  # render messages with the tokenizer's chat template and generation prompt
    system_prompt: str = ""  # with chat: a system message put first when the row has none
    max_prompt_tokens: int = 0  # 0: unchecked; else the longest prompt that leaves room for the response
    context: str = ""  # how max_prompt_tokens was worked out, quoted in the error
    drop_long: bool = False  # leave out (count, log) prompts over max_prompt_tokens instead of failing


def data_root() -> Path:
    """Where public benchmarks live: ``$RLVR_DATA_DIR`` or the copies shipped in datasets/public."""
    env = os.environ.get("RLVR_DATA_DIR")
    return Path(env) if env else DATASETS_DIR / "public"


def stop_strings(source: str) -> list[str]:
    """Stop strings for responses to ``source``'s prompts: a built-in's ``STOP``, else DEFAULT_STOP.

    Every other source's bare questions are formatted with DEFAULT_PROMPT_TEMPLATE, a plain completion
    prompt: without these stops a base model runs on into a made-up next "Question:" and the verifier reads
    that answer instead.
    """
    if _is_builtin(source):
        return list(getattr(load_builtin(source), "STOP", DEFAULT_STOP))
    return list(DEFAULT_STOP)


def chat_stops(tokenizer: Any) -> list[str]:
    """The text the chat template puts after an assistant turn (ChatML: ``<|im_end|>``), as a stop string.

    Found by rendering a one-turn conversation, so it holds for any template; [] when the template adds
    nothing after the turn (then the tokenizer's end-of-sequence token ends a response).
    """
    marker = "\x00RLVR_END\x00"
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "q"}, {"role": "assistant",
                                              "content": marker}], tokenize=False)
    except Exception:  # a template that cannot render a bare turn: rely on end-of-sequence
        return []
    end = text.split(marker, 1)[1].strip() if marker in text else ""
    return [end] if end else []


def load_prompt_set(source: str, split: str, n: int | None, seed: int, tokenizer: Any, *,
                    default_verifier: str = "math", template: str = "", chat: bool = False,
                    rendering: Rendering | None = None, fmt: str = "auto",
                    verifier_map: dict[str, str] | None = None) -> PromptSet:
    """Rows of ``source`` with their prompt token ids, and the stop strings that end a response to them.

    chat (or rendering.chat): each prompt is the tokenizer's chat template around the row's messages (or its
    bare question as one user message) with the generation prompt; the set's stops are the template's
    end-of-turn text (:func:`chat_stops`). Prompts longer than rendering.max_prompt_tokens fail naming
    their row, or with rendering.drop_long are left out and counted in ``dropped_long``.
    """
    rendering = rendering or Rendering(template=template, chat=chat)
    rows = load_prompts(source, split=split, n=n, seed=seed, default_verifier=default_verifier,
                        prompt_template=rendering.template or None, fmt=fmt, verifier_map=verifier_map)
    if not rows:
        raise DataError(f"{source!r} split {split!r} has no rows")
    rows = [dataclasses.replace(r, prompt=render_prompt(r, tokenizer, rendering, source)) for r in rows]
    encoded = tokenizer([r.prompt for r in rows], add_special_tokens=False)["input_ids"]
    tokenized = [TokenizedPrompt(**_fields(r), prompt_ids=list(ids)) for r, ids in zip(rows, encoded)]
    kept = _fit_context(tokenized, source, rendering)
    return PromptSet(kept, chat_stops(tokenizer) if rendering.chat else stop_strings(source),
                     dropped_long=len(tokenized) - len(kept))


def render_prompt(row: PromptRow, tokenizer: Any, rendering: Rendering, source: str) -> str:
    """The text the model sees for ``row``: its plain prompt, or its messages through the chat template."""
    number = row.metadata.get("source_row")
    if not rendering.chat:
        if rendering.system_prompt:
            raise ValueError("data.system_prompt needs data.chat_template=true (a plain prompt has no system turn)")
        if not row.prompt:
            roles = ", ".join(m["role"] for m in row.messages or [])
            raise DataError(f"its messages ({roles}) need the model's chat template (a plain prompt takes one "
                            "user message): set data.chat_template=true", source, number)
        return row.prompt
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"data.chat_template=true but the tokenizer {getattr(tokenizer, 'name_or_path', '')!r} "
                         "has no chat template")
    messages = list(row.messages or [{"role": "user", "content": row.question}])
    if rendering.system_prompt and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": rendering.system_prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _fit_context(rows: list[TokenizedPrompt], source: str, rendering: Rendering) -> list[TokenizedPrompt]:
    """Rows whose prompt leaves room for a response: a longer one is an error naming it, or with drop_long a
    logged omission. (vLLM would otherwise reject or cut it, and the row would score zero without a word.)"""
    limit = rendering.max_prompt_tokens
    if limit <= 0:
        return rows
    long = [r for r in rows if len(r.prompt_ids) > limit]
    if long and not rendering.drop_long:
        row = long[0]
        raise DataError(f"prompt is {len(row.prompt_ids)} tokens, over the {limit} the context leaves for it "
                        f"({rendering.context}); raise rollout.max_model_len, shorten the prompt, or set "
                        f"data.drop_long_prompts=true ({len(long)} of {len(rows)} rows are too long)", source,
                        row.metadata.get("source_row", rows.index(row) + 1))
    if long:
        log.warning("%s: left out %d of %d prompts over %d tokens (%s; data.drop_long_prompts=true)", source,
                    len(long), len(rows), limit, rendering.context)
    kept = [r for r in rows if len(r.prompt_ids) <= limit]
    if not kept:
        raise DataError(f"every prompt is over the {limit} tokens the context leaves ({rendering.context})", source)
    return kept


def load_prompt_sets(data: Any, tokenizer: Any, *, max_model_len: int = 0,
                     max_tokens: tuple[int, int] = (0, 0)) -> tuple[PromptSet, PromptSet]:
    """(train, eval) sets from a DataConfig: the eval set is the source's eval split, or ``eval_source``'s test.

    max_model_len, max_tokens (train, eval): the engine's context and the longest responses asked for; each
    prompt must fit in what is left (0: unchecked).
    """
    def rendering(budget: int) -> Rendering:
        limit = max_model_len - budget if max_model_len else 0
        return Rendering(template=data.prompt_template, chat=data.chat_template, system_prompt=data.system_prompt,
                         max_prompt_tokens=max(limit, 1) if max_model_len else 0, drop_long=data.drop_long_prompts,
                         context=f"rollout.max_model_len {max_model_len} - max_tokens {budget}")

    common = dict(default_verifier=data.default_verifier, fmt=data.format, verifier_map=dict(data.verifier_map))
    train = load_prompt_set(data.source, "train", data.train_size or None, data.seed, tokenizer,
                            rendering=rendering(max_tokens[0]), **common)
    eval_source = data.eval_source or data.source
    evals = load_prompt_set(eval_source, "eval" if eval_source == data.source else "test", data.eval_size or None,
                            data.seed + 1, tokenizer, rendering=rendering(max_tokens[1]), **common)
    return train, evals


def load_prompts(
    source: str,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    default_verifier: str = "math",
    prompt_template: str | None = None,
    known_verifiers: Iterable[str] | None = None,
    fmt: str = "auto",
    verifier_map: dict[str, str] | None = None,
) -> list[PromptRow]:
    """Load prompt rows from ``source`` (see the module docstring).

    n: how many rows (None: all rows of a file, DEFAULT_N from a generator). For files, a smaller n keeps a
    seeded random subset in file order. prompt_template formats bare questions (must contain "{question}").
    known_verifiers: names a row's verifier may take (default: every verifier the registry can resolve).
    fmt: a file's row layout (:data:`rlvr.data.formats.FORMATS`; auto: from its first row's columns).
    verifier_map: source names (verl data_source, open-instruct dataset) -> verifier, over the built-in map.
    """
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0 or None, got {n}")
    template = prompt_template or DEFAULT_PROMPT_TEMPLATE
    if "{question}" not in template:
        raise ValueError("prompt_template must contain '{question}'")
    name, sep, explicit = source.partition(":")
    if name in PUBLIC_SETS:
        path = Path(explicit) if sep else _public_file(name, split)
        return _subset(_PUBLIC_ADAPTERS[name](path, _file_rows(path, split), template), n, seed)
    if _is_builtin(source):
        return _from_builtin(source, split, DEFAULT_N if n is None else n, seed, default_verifier)
    if not _is_file_source(source):
        raise DataError(f"{source!r} is neither a built-in dataset, a public set ({', '.join(PUBLIC_SETS)}), "
                        "a .jsonl/.json/.parquet path, a save_to_disk folder nor hf:ORG/NAME[:CONFIG][:SPLIT]")
    verifiers = set(known_verifiers) if known_verifiers is not None else _known_verifiers()
    ctx = _context(source, template, default_verifier, verifiers, verifier_map)
    rows = _file_prompts(source, _file_rows(source, split), ctx, fmt)
    _check_unique_ids(source, rows)
    return _subset(rows, n, seed)


def _is_file_source(source: str) -> bool:
    return source.startswith(HUB_PREFIX) or source.endswith(FILE_SUFFIXES) or Path(source).is_dir()


def _is_builtin(source: str) -> bool:
    return (source.partition(":")[0] not in PUBLIC_SETS and not _is_file_source(source)
            and find_builtin(source) is not None)


def _fields(row: PromptRow) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(PromptRow)}


def _known_verifiers() -> set[str]:
    from verifiers.base import list_verifiers

    return set(list_verifiers())


def _from_builtin(name: str, split: str, n: int, seed: int, default_verifier: str) -> list[PromptRow]:
    module = load_builtin(name)
    format_prompt: Callable[[dict], str] = getattr(module, "format_prompt", None) or (
        lambda row: getattr(module, "PROMPT_TEMPLATE", DEFAULT_PROMPT_TEMPLATE).format(question=row["question"]))
    verifier = getattr(module, "VERIFIER", default_verifier)
    out = []
    for row in module.generate(split, n, seed):
        metadata = {k: v for k, v in row.items() if k not in ("id", "question", "answer", "verifier")}
        out.append(PromptRow(id=str(row["id"]), prompt=format_prompt(row), ground_truth=str(row["answer"]),
                             verifier=row.get("verifier", verifier), question=row["question"],
                             metadata=metadata))
    return out


# ---- rows of files -----------------------------------------------------------------------------------------


def _public_file(name: str, split: str) -> Path:
    path = data_root() / name / f"{'test' if split == 'eval' else split}.jsonl"
    if not path.is_file() and data_root().is_dir():
        shipped = sorted(p.stem for p in (data_root() / name).glob("*.jsonl"))
        raise DataError(f"{name} has no {split!r} split here (splits: {', '.join(shipped) or 'none'}); "
                        f"name a file: {name}:/path/to/{split}.jsonl, or set RLVR_DATA_DIR", path)
    return path


def _file_rows(path: str | Path, split: str = "train") -> list[tuple[int, Any]]:
    rows = read_rows(path, hub_split="test" if split == "eval" else split)
    if not rows:
        raise DataError("no rows", path)
    return rows


def _fail(path: str | Path, number: int, message: str) -> DataError:
    return DataError(message, path, number)


def _text(path: Path, number: int, raw: dict, *fields: str) -> tuple[str, str]:
    """The first of ``fields`` present: (field, non-empty string value)."""
    return text_field(_context(path), number, raw, *fields)


def _answer(path: Path, number: int, raw: dict, *fields: str) -> str:
    for field in fields:
        if raw.get(field) is not None:
            value = answer_value(_context(path), number, field, raw[field])
            if isinstance(value, dict):
                raise _fail(path, number, f"field {field!r} must be a string, number or list, got dict")
            return value
    raise _fail(path, number, f"field {'/'.join(repr(f) for f in fields)} is missing")


def _context(path: str | Path, template: str = DEFAULT_PROMPT_TEMPLATE, default_verifier: str = "math",
             known: set[str] | None = None, verifier_map: dict[str, str] | None = None) -> Context:
    return Context(path, template, default_verifier, known or set(), dict(verifier_map or {}))


def _file_prompts(path: str | Path, rows: list[tuple[int, Any]], ctx: Context, fmt: str) -> list[PromptRow]:
    """Every row of a user's file in one format: ``fmt``, or the one the first row's columns show."""
    if fmt not in FORMATS:
        raise ValueError(f"data.format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    chosen = detect_format(rows[0][1]) if fmt == "auto" else fmt
    out = []
    for number, raw in rows:
        try:
            fields = read_row(chosen, ctx, number, raw)
        except DataError as exc:
            how = f"detected from row {rows[0][0]}'s columns" if fmt == "auto" else "data.format"
            raise DataError(f"{exc.problem} ({chosen} format, {how}; force one with "
                            f"data.format={'|'.join(FORMATS[1:])})", exc.file, exc.row) from None
        out.append(PromptRow(id=fields.id, prompt=fields.plain_prompt or "", ground_truth=fields.ground_truth,
                             verifier=fields.verifier, question=fields.question,
                             metadata={**fields.metadata, "source_row": number, "format": chosen},
                             messages=fields.messages))
    return out


def _check_unique_ids(path: Path, rows: list[PromptRow]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        number = row.metadata.get("source_row", 0)
        if row.id in seen:
            raise _fail(path, number, f"field 'id' {row.id!r} repeats row {seen[row.id]}")
        seen[row.id] = number


def _subset(rows: list[PromptRow], n: int | None, seed: int) -> list[PromptRow]:
    if n is None or n >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]


# ---- public benchmarks -----------------------------------------------------------------------------------


def _boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (balanced braces), or None."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1:i]
    return None


def _public_row(path: Path, number: int, name: str, row_id: Any, question: str, answer: str, template: str,
                **metadata: Any) -> PromptRow:
    metadata["source_row"] = number
    return PromptRow(id=f"{name}-{row_id}", prompt=template.format(question=question), ground_truth=answer,
                     verifier="math", question=question, metadata=metadata)


def _gsm8k(path: Path, rows: list[tuple[int, Any]], template: str) -> list[PromptRow]:
    out = []
    for number, raw in rows:
        _, question = _text(path, number, raw, "question")
        _, solution = _text(path, number, raw, "answer")
        if "####" not in solution:
            raise _fail(path, number, "field 'answer' has no '####' final answer")
        final = solution.rsplit("####", 1)[1].strip().replace(",", "")
        if not final:
            raise _fail(path, number, "field 'answer' is empty after '####'")
        out.append(_public_row(path, number, "gsm8k", f"{source_stem(path)}-{number}", question, final, template,
                               solution=solution))
    return out


def _minerva(path: Path, rows: list[tuple[int, Any]], template: str) -> list[PromptRow]:
    out = []
    for number, raw in rows:
        _, problem = _text(path, number, raw, "problem")
        _, solution = _text(path, number, raw, "solution")
        answer = _boxed(solution)
        if answer is None or not answer.strip():
            raise _fail(path, number, "field 'solution' has no \\boxed{...} answer")
        out.append(_public_row(path, number, "minerva_math", raw.get("idx", number), problem, answer.strip(),
                               template, type=raw.get("type")))
    return out


def _competition(name: str) -> Callable[[Path, list[tuple[int, Any]], str], list[PromptRow]]:
    def adapt(path: Path, rows: list[tuple[int, Any]], template: str) -> list[PromptRow]:
        out = []
        for number, raw in rows:
            _, problem = _text(path, number, raw, "problem", "question")
            answer = _answer(path, number, raw, "answer")
            out.append(_public_row(path, number, name, raw.get("id", number), problem, answer, template,
                                   url=raw.get("url")))
        return out

    return adapt


_PUBLIC_ADAPTERS = {"gsm8k": _gsm8k, "minerva_math": _minerva, "aime24": _competition("aime24"),
                    "amc23": _competition("amc23")}
