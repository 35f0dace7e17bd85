"""Row layouts of prompt files: plain, verl and open-instruct rows as :class:`RowFields`.

* plain: ``prompt`` (used as written) or ``question`` (put into the prompt template), ``answer`` or
  ``ground_truth`` (a string, number, list of alternatives or a JSON object such as an IFEval or code spec),
  optional ``verifier`` and ``id``.
* verl: ``prompt`` as a list of chat messages, ``reward_model.ground_truth``, ``data_source`` (mapped to a
  verifier: :data:`VERL_SOURCES`), ``extra_info`` (kept as metadata; its ``index`` is the row id if no ``id``).
* open_instruct: ``messages`` (a trailing assistant message is the reference answer and is dropped),
  ``ground_truth`` (string or list), ``dataset`` (mapped to a verifier; labels translated by
  :mod:`rlvr.data.open_instruct`).

A file's format is detected from its first row's columns (:func:`detect_format`) unless ``data.format``
forces one; every row is then read in that format, so a stray row fails naming its row and field instead of
being read as another format. A row's own ``verifier`` field always wins; ``verifier_map`` (``data.verifier_map``)
adds or overrides source-name mappings. Ground truths for ifeval and code are checked here with those verifiers'
own parsers, so a bad spec fails at load naming its row, not as a zero reward in every step.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from rlvr.data.open_instruct import DATASET_VERIFIERS, LabelError, translate_label
from rlvr.data.reader import DataError

FORMATS = ("auto", "plain", "verl", "open_instruct")
# verl's data_source names (verl.utils.reward_score.default_compute_score) whose scorer is a math one.
VERL_SOURCES = {"openai/gsm8k": "math", "lighteval/MATH": "math", "DigitalLearningGmbH/MATH-lighteval": "math",
                "HuggingFaceH4/MATH-500": "math", "math_dapo": "math", "math": "math"}
VERL_MATH_PREFIXES = ("aime", "numina_")
ROLES = ("system", "user", "assistant", "tool")


@dataclasses.dataclass(frozen=True)
class RowFields:
    """What a row holds, format-independent; the prompt set renders and tokenizes it."""

    id: str
    question: str  # the last user message, or the plain row's question / prompt text
    plain_prompt: str | None  # the prompt without a chat template; None: only a chat template can render it
    messages: list[dict[str, str]] | None  # the row's chat messages (verl / open-instruct), None for plain rows
    ground_truth: Any
    verifier: str
    metadata: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Context:
    path: str | Path
    template: str
    default_verifier: str
    known: set[str]
    verifier_map: dict[str, str]


def detect_format(row: dict[str, Any]) -> str:
    """verl when the row has ``reward_model`` or a message-list ``prompt``; open_instruct when it has
    ``messages``; else plain."""
    if "reward_model" in row or isinstance(row.get("prompt"), list):
        return "verl"
    if "messages" in row:
        return "open_instruct"
    return "plain"


def read_row(fmt: str, ctx: Context, number: int, raw: dict[str, Any]) -> RowFields:
    return {"plain": _plain, "verl": _verl, "open_instruct": _open_instruct}[fmt](ctx, number, raw)


def fail(ctx: Context, number: int, message: str) -> DataError:
    return DataError(message, ctx.path, number)


def text_field(ctx: Context, number: int, raw: dict, *fields: str) -> tuple[str, str]:
    """The first of ``fields`` present: (field, non-empty string value)."""
    for field in fields:
        if field in raw and raw[field] is not None:
            value = raw[field]
            if not isinstance(value, str):
                raise fail(ctx, number, f"field {field!r} must be a string, got {type(value).__name__}")
            if not value.strip():
                raise fail(ctx, number, f"field {field!r} is empty")
            return field, value
    raise fail(ctx, number, f"field {'/'.join(repr(f) for f in fields)} is missing")


def answer_value(ctx: Context, number: int, field: str, value: Any) -> Any:
    """A ground truth as the verifiers take it: text for scalars, lists and objects kept as they are."""
    if value is None:
        raise fail(ctx, number, f"field {field!r} is missing")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, list, dict)):
        raise fail(ctx, number, f"field {field!r} must be a string, number, list or object, got {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, dict)):
        if not value:
            raise fail(ctx, number, f"field {field!r} is empty")
        return value
    if not str(value).strip():
        raise fail(ctx, number, f"field {field!r} is empty")
    return str(value)


def _row_id(ctx: Context, number: int, raw: dict, fallback: Any = None) -> str:
    row_id = raw.get("id", fallback)
    if row_id is None:
        return f"{source_stem(ctx.path)}-{number}"
    if isinstance(row_id, bool) or not isinstance(row_id, (str, int)):
        raise fail(ctx, number, f"field 'id' must be a string or integer, got {type(row_id).__name__}")
    return str(row_id)


def source_stem(path: str | Path) -> str:
    """What row ids are made from: a file's stem, a Hub dataset's name (``hf:org/NAME:...`` -> NAME)."""
    text = str(path)
    if text.startswith("hf:"):
        return text[3:].split(":")[0].split("/")[-1]
    return Path(text).stem


def _checked_verifier(ctx: Context, number: int, verifier: Any, field: str = "verifier") -> str:
    if not isinstance(verifier, str) or not verifier:
        raise fail(ctx, number, f"field {field!r} must be a non-empty string")
    if verifier not in ctx.known:
        raise fail(ctx, number, f"field {field!r}: unknown verifier {verifier!r}; known: {', '.join(sorted(ctx.known))}")
    return verifier


def _mapped_verifier(ctx: Context, number: int, raw: dict, field: str, builtin: dict[str, str]) -> str:
    """The row's ``verifier``, else its source name (``field``) mapped to one, else the default verifier."""
    if raw.get("verifier") is not None:
        return _checked_verifier(ctx, number, raw["verifier"])
    name = raw.get(field)
    if isinstance(name, list) and len(name) == 1:
        name = name[0]
    if name is None:
        return _checked_verifier(ctx, number, ctx.default_verifier)
    if not isinstance(name, str) or not name:
        raise fail(ctx, number, f"field {field!r} must be a non-empty string (one verifier per row), got {name!r}")
    verifier = ctx.verifier_map.get(name) or builtin.get(name) or builtin.get(name.lower())
    if verifier is None and field == "data_source" and name.lower().startswith(VERL_MATH_PREFIXES):
        verifier = "math"
    if verifier is None and name in ctx.known:
        verifier = name
    if verifier is None:
        raise fail(ctx, number, f"field {field!r}: no verifier for {name!r}; map it with "
                                f"data.verifier_map='{{{name}: math}}' (known verifiers: {', '.join(sorted(ctx.known))})")
    return _checked_verifier(ctx, number, verifier, field)


def _messages(ctx: Context, number: int, field: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise fail(ctx, number, f"field {field!r} must be a non-empty list of chat messages")
    out = []
    for i, message in enumerate(value):
        where = f"field {field!r} message {i + 1}"
        if not isinstance(message, dict):
            raise fail(ctx, number, f"{where} must be an object with 'role' and 'content'")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise fail(ctx, number, f"{where}: 'role' must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise fail(ctx, number, f"{where}: 'content' must be a string, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    if not any(m["role"] == "user" and m["content"].strip() for m in out):
        raise fail(ctx, number, f"field {field!r} has no user message with content")
    return out


def _from_messages(ctx: Context, messages: list[dict[str, str]]) -> tuple[str, str | None]:
    """(question, plain prompt): a lone user message is a question for the plain template; anything more
    (a system message, earlier turns) needs the model's chat template, so its plain prompt is None."""
    question = [m["content"] for m in messages if m["role"] == "user"][-1]
    return question, ctx.template.format(question=question) if len(messages) == 1 else None


def _plain(ctx: Context, number: int, raw: dict) -> RowFields:
    field, text = text_field(ctx, number, raw, "prompt", "question")
    if raw.get("answer") is None and raw.get("ground_truth") is None:
        raise fail(ctx, number, "field 'answer'/'ground_truth' is missing")
    truth_field = "answer" if raw.get("answer") is not None else "ground_truth"
    truth = answer_value(ctx, number, truth_field, raw[truth_field])
    verifier = _checked_verifier(ctx, number, ctx.default_verifier if raw.get("verifier") is None else raw["verifier"])
    question = raw["question"] if isinstance(raw.get("question"), str) else text
    metadata = {k: v for k, v in raw.items() if k not in ("id", "prompt", "question", "answer", "ground_truth",
                                                          "verifier")}
    return RowFields(_row_id(ctx, number, raw), question, text if field == "prompt" else ctx.template.format(
        question=text), None, _checked_truth(ctx, number, truth_field, verifier, truth, question), verifier, metadata)


def _verl(ctx: Context, number: int, raw: dict) -> RowFields:
    messages = _messages(ctx, number, "prompt", raw.get("prompt"))
    reward = raw.get("reward_model")
    if not isinstance(reward, dict):
        raise fail(ctx, number, "field 'reward_model' must be an object with 'ground_truth'"
                   if reward is not None else "field 'reward_model' is missing")
    truth = answer_value(ctx, number, "reward_model.ground_truth", reward.get("ground_truth"))
    verifier = _mapped_verifier(ctx, number, raw, "data_source", VERL_SOURCES)
    extra = raw.get("extra_info") if isinstance(raw.get("extra_info"), dict) else {}
    question, plain = _from_messages(ctx, messages)
    metadata = {k: v for k, v in raw.items() if k not in ("id", "prompt", "reward_model", "verifier")}
    return RowFields(_row_id(ctx, number, raw, extra.get("index")), question, plain, messages,
                     _checked_truth(ctx, number, "reward_model.ground_truth", verifier, truth, question), verifier,
                     metadata)


def _open_instruct(ctx: Context, number: int, raw: dict) -> RowFields:
    messages = _messages(ctx, number, "messages", raw.get("messages"))
    if len(messages) > 1 and messages[-1]["role"] == "assistant":
        messages = messages[:-1]  # the reference answer of an SFT-style row, not part of the prompt
    truth = answer_value(ctx, number, "ground_truth", raw.get("ground_truth"))
    if isinstance(raw.get("dataset"), list) and isinstance(truth, list) and len(truth) == 1:
        truth = truth[0]  # labels paired with a list of datasets: one of each here
    verifier = _mapped_verifier(ctx, number, raw, "dataset", DATASET_VERIFIERS)
    dataset = raw.get("dataset")
    dataset = (dataset[0] if isinstance(dataset, list) else dataset or "").lower()
    if verifier in ("ifeval", "code") and dataset in DATASET_VERIFIERS:
        try:
            truth = translate_label(dataset, truth)
        except LabelError as exc:
            raise fail(ctx, number, f"field 'ground_truth' ({dataset}): {exc}") from None
    question, plain = _from_messages(ctx, messages)
    metadata = {k: v for k, v in raw.items() if k not in ("id", "messages", "ground_truth", "verifier")}
    return RowFields(_row_id(ctx, number, raw), question, plain, messages,
                     _checked_truth(ctx, number, "ground_truth", verifier, truth, question), verifier, metadata)


def _checked_truth(ctx: Context, number: int, field: str, verifier: str, truth: Any, question: str) -> Any:
    """ifeval and code ground truths parsed by their verifier now, so a bad one names its row."""
    try:
        if verifier == "ifeval":
            from verifiers.ifeval import parse_ground_truth

            parse_ground_truth(truth, question)
        elif verifier == "code":
            from verifiers.code import parse_ground_truth as parse_code

            parse_code(truth)
        elif verifier == "math" and isinstance(truth, dict):
            raise ValueError(f"a math ground truth is a string, number or list, got {json.dumps(truth)[:80]}")
    except ValueError as exc:
        raise fail(ctx, number, f"field {field!r} ({verifier}): {exc}") from None
    return truth
