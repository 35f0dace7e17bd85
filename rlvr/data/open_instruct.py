"""open-instruct ground truths in this project's verifier formats.

open-instruct (allenai/open-instruct, ``ground_truth_utils.py``) scores a row with the verifier its ``dataset``
column names, on its ``ground_truth`` label. Three label layouts need translating here:

* ``ifeval``: a Python-literal (or JSON) list whose first item holds ``instruction_id`` (a list of IFEval ids)
  and ``kwargs`` (one dict per id, None meaning "not given"). That is IFEval's own row format under other
  names: it becomes ``{"instruction_id_list": [...], "kwargs": [...]}`` with the None entries dropped.
* ``ifeval_old``: one constraint ``{"func_name": NAME, ARG: value, ...}`` (JSON text in the RLVR-IFeval data,
  every argument present, unused ones null) naming one of open-instruct's ``if_functions``. Each function
  that checks what an IFEval instruction checks is translated to that instruction; the rest are refused with
  the reason, since scoring them with a different check would reward something the prompt did not ask for.
* ``code`` / ``code_stdio``: a list of assert statements / of ``{"input", "output"}`` cases, which the code
  verifier takes as ``{"asserts": [...]}`` / ``{"tests": [...]}``.
"""
from __future__ import annotations

import ast
import json
from typing import Any, Callable

# open-instruct dataset name (lower case) -> this project's verifier
DATASET_VERIFIERS = {"gsm8k": "math", "math": "math", "strict_math": "math", "ifeval": "ifeval",
                     "ifeval_old": "ifeval", "code": "code", "code_stdio": "code"}


class LabelError(ValueError):
    """A label that cannot be translated; the message says why (the caller adds file, row and field)."""


def _relation(instruction: str, count_key: str, relation_key: str) -> Callable[[dict], dict]:
    """open-instruct's quantifiers as IFEval relations: "at least N" as is, "at most N" is "less than N+1"."""
    def convert(args: dict) -> dict:
        n, quantifier = _required(args, "N"), _required(args, "quantifier")
        if quantifier == "at least":
            return {count_key: n, relation_key: "at least"}
        if quantifier == "at most":
            return {count_key: n + 1, relation_key: "less than"}
        raise LabelError(f"quantifier {quantifier!r} of {instruction} has no IFEval relation "
                         "(IFEval has 'at least' and 'less than'; 'around' is not expressible)")
    return convert


def _renamed(**names: str) -> Callable[[dict], dict]:
    return lambda args: {ours: _required(args, theirs) for theirs, ours in names.items()}


def _required(args: dict, key: str) -> Any:
    if key not in args:
        raise LabelError(f"argument {key!r} is missing")
    return args[key]


# func_name -> (IFEval instruction id, argument translation)
_FUNCTIONS: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "verify_keywords": ("keywords:existence", _renamed(keyword_list="keywords")),
    "validate_forbidden_words": ("keywords:forbidden_words", _renamed(forbidden_words="forbidden_words")),
    "validate_response_language": ("language:response_language", _renamed(language="language")),
    "validate_word_constraint": ("length_constraints:number_words",
                                 _relation("validate_word_constraint", "num_words", "relation")),
    "verify_sentence_constraint": ("length_constraints:number_sentences",
                                   _relation("verify_sentence_constraint", "num_sentences", "relation")),
    "validate_paragraphs": ("length_constraints:nth_paragraph_first_word",
                            _renamed(N="num_paragraphs", i="nth_paragraph", first_word="first_word")),
    "verify_postscript": ("detectable_content:postscript", _renamed(postscript_marker="postscript_marker")),
    "validate_placeholders": ("detectable_content:number_placeholders", _renamed(N="num_placeholders")),
    "verify_bullet_points": ("detectable_format:number_bullet_lists", _renamed(N="num_bullets")),
    "validate_title": ("detectable_format:title", _renamed()),
    "validate_highlighted_sections": ("detectable_format:number_highlighted_sections", _renamed(N="num_highlights")),
    "validate_sections": ("detectable_format:multiple_sections",
                          _renamed(N="num_sections", section_splitter="section_spliter")),
    "validate_json_format": ("detectable_format:json_format", _renamed()),
    "validate_repeat_prompt": ("combination:repeat_prompt", _renamed(original_prompt="prompt_to_repeat")),
    "validate_two_responses": ("combination:two_responses", _renamed()),
    "validate_uppercase": ("change_case:english_capital", _renamed()),
    "validate_lowercase": ("change_case:english_lowercase", _renamed()),
    "validate_frequency_capital_words": ("change_case:capital_word_frequency",
                                         _relation("validate_frequency_capital_words", "capital_frequency",
                                                   "capital_relation")),
    "validate_end": ("startend:end_checker", _renamed(end_phrase="end_phrase")),
    "validate_quotation": ("startend:quotation", _renamed()),
    "validate_no_commas": ("punctuation:no_comma", _renamed()),
}
# Functions whose check no IFEval instruction makes: refused, with the reason.
_REFUSED = {
    "verify_keyword_frequency": "it checks an exact count; IFEval's keywords:frequency has 'less than'/'at least'",
    "verify_letter_frequency": "it checks an exact count; IFEval's keywords:letter_frequency has 'less than'/'at least'",
    "verify_paragraph_count": "it splits paragraphs on '* * *'; IFEval's number_paragraphs splits on '***'",
    "validate_choice": "its options are the row's own; IFEval's constrained_response has fixed options",
}


def translate_label(dataset: str, label: Any) -> Any:
    """``label`` of an open-instruct row whose verifier is ``dataset``, as this project's ground truth."""
    if dataset == "ifeval_old" or (dataset == "ifeval" and _has_func_name(label)):
        return _from_function(_parse(label, "a JSON object with 'func_name'"))
    if dataset == "ifeval":
        return _from_instruction_list(_parse(label, "a list holding {'instruction_id': [...], 'kwargs': [...]}"))
    if dataset in ("code", "code_stdio"):
        tests = _parse(label, "a list of tests") if isinstance(label, str) else label
        if not isinstance(tests, list) or not tests:
            raise LabelError(f"a {dataset} label must be a non-empty list of tests, got {type(tests).__name__}")
        return {"asserts": tests} if dataset == "code" else {"tests": tests}
    return label


def _has_func_name(label: Any) -> bool:
    try:
        parsed = _parse(label, "")
    except LabelError:
        return False
    return isinstance(parsed, dict) and "func_name" in parsed


def _parse(label: Any, expected: str) -> Any:
    """JSON text or a Python literal (open-instruct writes both) as a value; other values as they are."""
    if not isinstance(label, str):
        return label
    try:
        return json.loads(label)
    except json.JSONDecodeError:
        pass  # not JSON: open-instruct also writes Python reprs (single quotes, None)
    try:
        return ast.literal_eval(label)
    except (ValueError, SyntaxError):
        raise LabelError(f"not readable as {expected} (neither JSON nor a Python literal)") from None


def _from_function(constraint: Any) -> dict[str, Any]:
    if not isinstance(constraint, dict) or not isinstance(constraint.get("func_name"), str):
        raise LabelError("an ifeval_old label must be an object with a string 'func_name'")
    name = constraint["func_name"]
    args = {k: v for k, v in constraint.items() if k != "func_name" and v is not None}
    if name in _REFUSED:
        raise LabelError(f"open-instruct constraint {name!r} cannot be scored here: {_REFUSED[name]}")
    if name not in _FUNCTIONS:
        raise LabelError(f"unknown open-instruct constraint func_name {name!r}")
    instruction, convert = _FUNCTIONS[name]
    try:
        kwargs = convert(args)
    except LabelError as exc:
        raise LabelError(f"{name}: {exc}") from None
    return {"instruction_id_list": [instruction], "kwargs": [kwargs]}


def _from_instruction_list(parsed: Any) -> dict[str, Any]:
    item = parsed
    for _ in range(3):  # a list around (the text of) a list around the object: open-instruct writes each
        if isinstance(item, str):
            item = _parse(item, "an object with 'instruction_id' and 'kwargs'")
        if isinstance(item, list) and item:
            item = item[0]
    if not isinstance(item, dict) or not isinstance(item.get("instruction_id"), list):
        raise LabelError("an ifeval label must hold an object with an 'instruction_id' list")
    ids, kwargs = item["instruction_id"], item.get("kwargs") or [None] * len(item["instruction_id"])
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise LabelError(f"an ifeval label's 'kwargs' must be a list with one entry per instruction ({len(ids)})")
    if not all(k is None or isinstance(k, dict) for k in kwargs):
        raise LabelError("an ifeval label's 'kwargs' entries must be objects or null")
    return {"instruction_id_list": list(ids),
            "kwargs": [{k: v for k, v in (entry or {}).items() if v is not None} for entry in kwargs]}
