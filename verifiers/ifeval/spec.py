"""How an instruction is declared (id, typed kwargs, check) and how its kwargs are validated.

Checks register themselves with :func:`instruction`; :data:`INSTRUCTIONS` maps every
instruction id to its declaration. Unlike IFEval's own classes, which draw random values
for missing or out-of-range arguments (they double as prompt generators), a verifier
must refuse such data: :func:`parse_kwargs` raises :class:`KwargsError` naming the field.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Literal

RELATIONS = ("less than", "at least")

Kind = Literal["int", "str", "str_list", "relation", "letter", "language"]


class KwargsError(ValueError):
    """A kwargs entry that cannot be used; ``field`` names the offending key (or None)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class Param:
    kind: Kind
    required: bool = True
    minimum: int = 0  # for "int"
    strip: bool = True  # for "str": IFEval strips keywords, phrases and markers
    from_prompt: bool = False  # when absent, use the verifier's ``prompt`` argument


INT = Param("int")
POSITIVE_INT = Param("int", minimum=1)
STR = Param("str")
STR_LIST = Param("str_list")
RELATION = Param("relation")
LETTER = Param("letter")
LANGUAGE = Param("language")
PROMPT_TEXT = Param("str", strip=False, from_prompt=True)

Validator = Callable[[dict[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class Instruction:
    id: str
    source: str  # "ifeval" or "ifbench"
    params: dict[str, Param]
    check: Callable[..., bool]
    validate: Validator | None = None


INSTRUCTIONS: dict[str, Instruction] = {}


def instruction(
    instruction_id: str, source: str, *, validate: Validator | None = None, **params: Param
) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """Decorator: declare ``check(response, **kwargs) -> bool`` as ``instruction_id``."""

    def wrap(check: Callable[..., bool]) -> Callable[..., bool]:
        if instruction_id in INSTRUCTIONS:
            raise ValueError(f"instruction {instruction_id!r} is declared twice")
        INSTRUCTIONS[instruction_id] = Instruction(instruction_id, source, params, check, validate)
        return check

    return wrap


def compare(count: int, relation: str, threshold: int) -> bool:
    """IFEval's two relations: "less than" is ``<``, "at least" is ``>=``."""
    return count < threshold if relation == RELATIONS[0] else count >= threshold


def parse_kwargs(
    spec: Instruction,
    raw: Any,
    prompt: str | None = None,
    ignore_unknown: bool = False,
) -> dict[str, Any]:
    """Validated keyword arguments for ``spec.check``.

    None values are dropped first: IFEval/IFBench rows carry every argument name of every
    instruction, unused ones set to null.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise KwargsError(None, f"kwargs must be an object, got {type(raw).__name__}")
    given = {key: value for key, value in raw.items() if value is not None}
    unknown = sorted(set(given) - set(spec.params))
    if unknown and not ignore_unknown:
        takes = ", ".join(spec.params) or "no arguments"
        raise KwargsError(unknown[0], f"unexpected field {unknown[0]!r} (takes: {takes})")
    parsed: dict[str, Any] = {}
    for name, param in spec.params.items():
        value = given.get(name)
        if value is None and param.from_prompt and prompt:
            value = prompt
        if value is None:
            if param.required:
                raise KwargsError(name, f"missing required field {name!r}")
            continue
        parsed[name] = _coerce(name, param, value)
    if spec.validate is not None:
        spec.validate(parsed)
    return parsed


def _coerce(name: str, param: Param, value: Any) -> Any:
    kind = param.kind
    if kind == "int":
        return _as_int(name, value, param.minimum)
    if kind == "str":
        if not isinstance(value, str):
            raise KwargsError(name, f"field {name!r} must be a string, got {type(value).__name__}")
        text = value.strip() if param.strip else value
        if not text.strip():
            raise KwargsError(name, f"field {name!r} must not be empty")
        return text
    if kind == "str_list":
        if not isinstance(value, (list, tuple)) or not value:
            raise KwargsError(name, f"field {name!r} must be a non-empty list of strings")
        items = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise KwargsError(name, f"field {name!r} holds {item!r}, not a non-empty string")
            items.append(item.strip())
        return items
    if kind == "relation":
        relation = value.strip().lower() if isinstance(value, str) else value
        if relation not in RELATIONS:
            raise KwargsError(name, f"field {name!r} must be one of {RELATIONS}, got {value!r}")
        return relation
    if kind == "letter":
        # Not only letters: IFEval's own data asks for a count of "#".
        if not isinstance(value, str) or len(value.strip()) != 1:
            raise KwargsError(name, f"field {name!r} must be a single character, got {value!r}")
        return value.strip().lower()
    if kind == "language":
        from verifiers.ifeval.text import known_languages

        code = value.strip().lower() if isinstance(value, str) else value
        if not isinstance(code, str) or code not in known_languages():
            raise KwargsError(
                name, f"field {name!r} must be an ISO 639-1 code langdetect knows, got {value!r}"
            )
        return code
    raise AssertionError(f"unknown parameter kind {kind!r}")


def _as_int(name: str, value: Any, minimum: int) -> int:
    # Integral floats are accepted: parquet/pandas turn nullable int columns into floats.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KwargsError(name, f"field {name!r} must be an integer, got {value!r}")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise KwargsError(name, f"field {name!r} must be an integer, got {value!r}")
    number = int(value)
    if number < minimum:
        raise KwargsError(name, f"field {name!r} must be >= {minimum}, got {number}")
    return number
