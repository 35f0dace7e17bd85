"""Prompt sets for RL and evaluation: rows from a built-in generator, a user's file or a public benchmark.

``load_prompts(source, split, n, seed)`` understands three kinds of ``source``:

* a built-in dataset name, e.g. ``"arithmetic"`` (see :mod:`rlvr.data.builtin`);
* a path ending in ``.jsonl``, ``.json`` or ``.parquet`` (or a ``save_to_disk`` folder), each row with
  ``prompt`` or ``question``, ``answer`` or ``ground_truth``, and optionally ``verifier`` and ``id``;
* a public benchmark, ``"gsm8k"``, ``"minerva_math"``, ``"aime24"`` or ``"amc23"``, optionally with an explicit
  file: ``"gsm8k:/path/to/test.jsonl"``. Without a path the file is ``<data root>/<name>/<split>.jsonl``, the
  data root being ``$RLVR_DATA_DIR`` or the sets shipped in ``datasets/public`` (their test splits, with their
  licences). A public set's held-out split is its test split, so ``split="eval"`` reads ``test.jsonl``.

``load_prompt_set`` adds the token ids the engines take and the stop strings (:func:`stop_strings`, the one
rule); ``load_prompt_sets`` makes the trainer's (train, eval) pair from its ``data`` config.

Bad rows raise :class:`DataError` naming the file, the 1-based row (the line number for JSONL) and the field;
no row is ever dropped silently. Files are read by :func:`rlvr.data.reader.read_rows`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path
from typing import Any, Callable, Iterable

from rlvr.data.builtin import find_builtin, load_builtin
from rlvr.data.reader import DataError, read_rows
from rlvr.paths import DATASETS_DIR

# Used when a file row gives a bare question; matches the arithmetic task's plain RL-Zero wording.
DEFAULT_PROMPT_TEMPLATE = "Solve the problem. Finish with a line 'Answer: <answer>'.\n\nQuestion: {question}\nSolution:"
DEFAULT_STOP = ["\n\n", "Question:"]  # the default template's response ends before a blank line or a new question
DEFAULT_N = 1000  # rows drawn from a generator when n is None
PUBLIC_SETS = ("gsm8k", "minerva_math", "aime24", "amc23")
FILE_SUFFIXES = (".jsonl", ".json", ".parquet")

__all__ = ["DEFAULT_PROMPT_TEMPLATE", "DEFAULT_STOP", "PUBLIC_SETS", "DataError", "PromptRow", "PromptSet",
           "TokenizedPrompt", "data_root", "load_prompt_set", "load_prompt_sets", "load_prompts", "stop_strings"]


@dataclasses.dataclass(frozen=True)
class PromptRow:
    id: str
    prompt: str  # the text sent to the model (already formatted)
    ground_truth: str
    verifier: str
    question: str  # the bare question, for recipes that apply their own (e.g. chat) template
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizedPrompt(PromptRow):
    """A row plus the token ids of its ``prompt``, tokenized once for the engines."""

    prompt_ids: list[int]


@dataclasses.dataclass
class PromptSet:
    rows: list[TokenizedPrompt]
    stop: list[str]  # the source's stop strings (callers may add their own, e.g. rollout.stop)


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


def load_prompt_set(source: str, split: str, n: int | None, seed: int, tokenizer: Any, *,
                    default_verifier: str = "math", template: str = "", chat: bool = False) -> PromptSet:
    """Rows of ``source`` with their prompt token ids, and the source's stop strings.

    chat: the prompt is the tokenizer's chat template around the bare question (its end-of-turn token ends
    a response, so the set carries no stop strings of its own; callers add their chat stops).
    """
    rows = load_prompts(source, split=split, n=n, seed=seed, default_verifier=default_verifier,
                        prompt_template=template or None)
    if not rows:
        raise DataError(f"{source!r} split {split!r} has no rows")
    if chat:
        rows = [dataclasses.replace(r, prompt=tokenizer.apply_chat_template(
            [{"role": "user", "content": r.question}], tokenize=False, add_generation_prompt=True)) for r in rows]
    encoded = tokenizer([r.prompt for r in rows], add_special_tokens=False)["input_ids"]
    tokenized = [TokenizedPrompt(**_fields(r), prompt_ids=list(ids)) for r, ids in zip(rows, encoded)]
    return PromptSet(tokenized, [] if chat else stop_strings(source))


def load_prompt_sets(data: Any, tokenizer: Any) -> tuple[PromptSet, PromptSet]:
    """(train, eval) sets from a DataConfig: the eval set is the source's eval split, or ``eval_source``'s test."""
    train = load_prompt_set(data.source, "train", data.train_size or None, data.seed, tokenizer,
                            default_verifier=data.default_verifier, template=data.prompt_template)
    eval_source = data.eval_source or data.source
    evals = load_prompt_set(eval_source, "eval" if eval_source == data.source else "test", data.eval_size or None,
                            data.seed + 1, tokenizer, default_verifier=data.default_verifier,
                            template=data.prompt_template)
    return train, evals


def load_prompts(
    source: str,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    default_verifier: str = "math",
    prompt_template: str | None = None,
    known_verifiers: Iterable[str] | None = None,
) -> list[PromptRow]:
    """Load prompt rows from ``source`` (see the module docstring).

    n: how many rows (None: all rows of a file, DEFAULT_N from a generator). For files, a smaller n keeps a
    seeded random subset in file order. prompt_template formats bare questions (must contain "{question}").
    known_verifiers: names a row's verifier may take (default: every verifier the registry can resolve).
    """
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0 or None, got {n}")
    template = prompt_template or DEFAULT_PROMPT_TEMPLATE
    if "{question}" not in template:
        raise ValueError("prompt_template must contain '{question}'")
    name, sep, explicit = source.partition(":")
    if name in PUBLIC_SETS:
        path = Path(explicit) if sep else _public_file(name, split)
        return _subset(_PUBLIC_ADAPTERS[name](path, _file_rows(path), template), n, seed)
    if _is_builtin(source):
        return _from_builtin(source, split, DEFAULT_N if n is None else n, seed, default_verifier)
    if not source.endswith(FILE_SUFFIXES) and not Path(source).is_dir():
        raise DataError(f"{source!r} is neither a built-in dataset, a public set ({', '.join(PUBLIC_SETS)}) "
                        "nor a .jsonl/.json/.parquet path or a save_to_disk folder")
    path = Path(source)
    verifiers = set(known_verifiers) if known_verifiers is not None else _known_verifiers()
    rows = [_generic_row(path, number, raw, default_verifier, template, verifiers) for number, raw in _file_rows(path)]
    _check_unique_ids(path, rows)
    return _subset(rows, n, seed)


def _is_builtin(source: str) -> bool:
    return (source.partition(":")[0] not in PUBLIC_SETS and not source.endswith(FILE_SUFFIXES)
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


def _file_rows(path: Path) -> list[tuple[int, Any]]:
    rows = read_rows(path)
    if not rows:
        raise DataError("no rows", path)
    return rows


def _fail(path: Path, number: int, message: str) -> DataError:
    return DataError(message, path, number)


def _text(path: Path, number: int, raw: dict, *fields: str) -> tuple[str, str]:
    """The first of ``fields`` present: (field, non-empty string value)."""
    for field in fields:
        if field in raw and raw[field] is not None:
            value = raw[field]
            if not isinstance(value, str):
                raise _fail(path, number, f"field {field!r} must be a string, got {type(value).__name__}")
            if not value.strip():
                raise _fail(path, number, f"field {field!r} is empty")
            return field, value
    names = "/".join(repr(f) for f in fields)
    raise _fail(path, number, f"field {names} is missing")


def _answer(path: Path, number: int, raw: dict, *fields: str) -> str:
    for field in fields:
        if field in raw and raw[field] is not None:
            value = raw[field]
            if isinstance(value, bool) or not isinstance(value, (str, int, float, list)):
                raise _fail(path, number, f"field {field!r} must be a string, number or list, "
                                          f"got {type(value).__name__}")
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            text = json.dumps(value) if isinstance(value, list) else str(value)
            if not text.strip():
                raise _fail(path, number, f"field {field!r} is empty")
            return text
    names = "/".join(repr(f) for f in fields)
    raise _fail(path, number, f"field {names} is missing")


def _generic_row(path: Path, number: int, raw: dict, default_verifier: str, template: str,
                 known: set[str]) -> PromptRow:
    field, text = _text(path, number, raw, "prompt", "question")
    ground_truth = _answer(path, number, raw, "answer", "ground_truth")
    verifier = raw.get("verifier", default_verifier)
    if verifier is None:
        verifier = default_verifier
    if not isinstance(verifier, str) or not verifier:
        raise _fail(path, number, "field 'verifier' must be a non-empty string")
    if verifier not in known:
        raise _fail(path, number, f"field 'verifier': unknown verifier {verifier!r}; known: {', '.join(sorted(known))}")
    row_id = raw.get("id")
    if row_id is None:
        row_id = f"{path.stem}-{number}"
    elif isinstance(row_id, bool) or not isinstance(row_id, (str, int)):
        raise _fail(path, number, f"field 'id' must be a string or integer, got {type(row_id).__name__}")
    question = raw.get("question") if isinstance(raw.get("question"), str) else text
    prompt = text if field == "prompt" else template.format(question=text)
    metadata = {k: v for k, v in raw.items() if k not in ("id", "prompt", "question", "answer", "ground_truth",
                                                          "verifier")}
    metadata["source_row"] = number
    return PromptRow(id=str(row_id), prompt=prompt, ground_truth=ground_truth, verifier=verifier,
                     question=question, metadata=metadata)


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
        out.append(_public_row(path, number, "gsm8k", f"{path.stem}-{number}", question, final, template,
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
