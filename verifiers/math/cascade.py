"""The cascade math verifier: extraction, normalised string match, math-verify, sympy.

The first stage that reaches a decision ends the cascade; ``details["stage"]`` names it.
Extraction and the string stage are plain Python in the caller's process. The
math-verify and sympy stages run in an isolated helper process under a shared time budget
(``timeout_s``, default 1.5 s), so a blow-up ends with reward 0 and the reason instead of
a hang, on any thread.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import threading
import time
from typing import Any

from verifiers.base import TextVerifier, VerifierResult, register
from verifiers.math.answer import (
    Answer,
    Choice,
    Compound,
    Scalar,
    choice_letters_mentioned,
    flatten_distinct,
    is_multi,
    item_count,
    parse_answer,
    parse_choice,
)
from verifiers.math.compare import answers_equal, string_stage_eq
from verifiers.math.extract import Extraction, extract_answers, final_boxes
from verifiers.math.isolate import Helper, HelperFailure, HelperTimeout
from verifiers.math.normalize import strip_delimiters, unwrap_commands

SYMBOLIC_STAGES = ("math_verify", "sympy")
MAX_ANSWER_CHARS = 2000  # a longer "final answer" is not one; also keeps the untimed stages fast
MAX_PLAIN_GOLD_CHARS = 200  # a longer gold without \\boxed{} or "####" is a worked solution
MAX_EQUIVALENT_ANSWERS = 4  # more distinct spellings than this is a hedge without checking each
MAX_PARSED_ANSWERS = 64  # more distinct final strings than this (and than the gold's parts): a hedge, unparsed
_GOLD_CHOICE = re.compile(r"^\s*\(?([A-E])\)?\s*$|^\s*\(?([A-E])\)\s*\S")


def gold_strings(ground_truth: Any) -> list[str]:
    """Ground truth as a list of acceptable answer strings.

    A list/tuple means alternatives (any one is correct). Numbers become strings; a float
    that is a whole number (AMC's 27.0) becomes "27" so it is not read as "stated to one
    decimal". A gold holding \\boxed{} or "####" is reduced to that answer.
    """
    if isinstance(ground_truth, bool) or ground_truth is None:
        raise TypeError(f"ground_truth must be a string, number or list of them, got {ground_truth!r}")
    if isinstance(ground_truth, (list, tuple)):
        if not ground_truth:
            raise ValueError("ground_truth is an empty list")
        return [s for g in ground_truth for s in gold_strings(g)]
    if isinstance(ground_truth, float):
        if ground_truth != ground_truth or ground_truth in (float("inf"), float("-inf")):
            raise ValueError(f"ground_truth is not a finite number: {ground_truth!r}")
        return [str(int(ground_truth)) if ground_truth.is_integer() else repr(ground_truth)]
    if isinstance(ground_truth, int):
        return [str(ground_truth)]
    if not isinstance(ground_truth, str):
        raise TypeError(f"ground_truth must be a string, number or list of them, got {type(ground_truth).__name__}")
    text = ground_truth.strip()
    if not text:
        raise ValueError("ground_truth is empty")
    boxes = list(dict.fromkeys(final_boxes(text, loose=True)[0]))
    if boxes:
        return [", ".join(boxes)]  # several boxes close together in a gold are the parts of one answer
    if "####" in text:
        return [text.rsplit("####", 1)[1].strip()]
    if len(text) > MAX_PLAIN_GOLD_CHARS:
        # A worked solution as the gold: its final answer, found as in a response.
        found = extract_answers(text)
        if len(found.answers) == 1 and found.method in ("answer_line", "answer_is"):
            return found.answers
    return [text]


def is_choice_gold(text: str) -> bool:
    """"B", "(B)", "B) 12", "\\text{(B)}": a multiple-choice letter."""
    return bool(_GOLD_CHOICE.match(unwrap_commands(strip_delimiters(text))))


@functools.lru_cache(maxsize=8192)
def _parse_gold(text: str, round_to: int | None = None) -> Answer:
    return _with_round_to(parse_answer(text, expect_choice=is_choice_gold(text)), round_to)


def _with_round_to(answer: Answer, round_to: int | None) -> Answer:
    if round_to is None:
        return answer
    if isinstance(answer, Scalar):
        return dataclasses.replace(answer, round_to=round_to)
    if isinstance(answer, Compound):
        return dataclasses.replace(answer, items=tuple(_with_round_to(i, round_to) for i in answer.items))
    return answer


_PLACES = {"whole number": 0, "integer": 0, "unit": 0, "one": 0, "tenth": 1, "hundredth": 2, "cent": 2,
           "penny": 2, "dollar": 0, "thousandth": 3, "ten thousandth": 4}
_WORD_DIGITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_NEAREST = re.compile(r"(?i)nearest\s+(whole number|integer|ten[- ]thousandth|thousandth|hundredth|tenth|cent|penny|dollar)")
_PLACES_RE = re.compile(r"(?i)(\d|one|two|three|four|five|six)\s+decimal\s+(?:places?|digits?)")


def requested_decimals(prompt: str | None, metadata: dict[str, Any] | None) -> int | None:
    """Decimals the problem asks for: ``metadata["round_to"]`` or the prompt's wording
    ("to the nearest hundredth" -> 2, "round to 3 decimal places" -> 3); None when it asks for none."""
    if metadata and metadata.get("round_to") is not None:
        value = metadata["round_to"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"metadata round_to must be a non-negative integer, got {value!r}")
        return value
    if not prompt:
        return None
    m = _NEAREST.search(prompt)
    if m:
        return _PLACES[m.group(1).lower().replace("-", " ")]
    m = _PLACES_RE.search(prompt)
    if m:
        word = m.group(1).lower()
        return int(word) if word.isdigit() else _WORD_DIGITS[word]
    return None


def prompt_options(prompt: str | None) -> dict[str, str]:
    """Options listed in a multiple-choice prompt: "(A) 12 (B) 13" or lines "B. 13"."""
    if not prompt:
        return {}
    found = re.findall(r"\(([A-E])\)\s*([^()\n]+?)(?=\s*\([A-E]\)|\n|$)", prompt)
    if len(found) < 2:
        found = re.findall(r"(?m)^\s*([A-E])[.)]\s+(.+?)\s*$", prompt)
    return {letter: value.strip().strip("$").strip() for letter, value in found} if len(found) >= 2 else {}


@register("math")
class MathVerifier(TextVerifier):
    """Binary maths reward: 1 when the final answer is equivalent to the gold.

    Options: ``timeout_s`` (budget for the symbolic stages together, default 1.5),
    ``require_think`` (no ``</think>`` -> 0, as MiroMind's cascade; default False),
    ``isolate`` (run symbolic stages in the helper process; False runs them in-process with
    no timeout, for debugging only).
    """

    def __init__(self, timeout_s: float = 1.5, require_think: bool = False, isolate: bool = True):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self.require_think = bool(require_think)
        self.isolate = bool(isolate)
        self._helper: Helper | None = None
        self._helper_lock = threading.Lock()

    # Pickling (e.g. into a Ray actor) must not carry the helper's pipes or the lock.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_helper"] = None
        del state["_helper_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._helper_lock = threading.Lock()

    def warmup(self) -> None:
        """Start the helper process (it warms up before it is ready) now, so the first item's
        budget is not spent on start-up."""
        if self.isolate:
            self._get_helper().start()

    def close(self) -> None:
        if self._helper is not None:
            self._helper.close()
            self._helper = None

    def _get_helper(self) -> Helper:
        with self._helper_lock:
            if self._helper is None:
                self._helper = Helper("verifiers.math.symbolic")
            return self._helper

    def score(self, response: str, ground_truth: Any, prompt: str | None,
              metadata: dict[str, Any] | None) -> VerifierResult:
        try:
            round_to = requested_decimals(prompt, metadata)
        except ValueError as exc:
            return VerifierResult.failure(f"bad metadata: {exc}")
        try:
            golds = [_parse_gold(g, round_to) for g in gold_strings(ground_truth)]
        except (TypeError, ValueError) as exc:
            return VerifierResult.failure(f"bad ground_truth: {exc}")
        details: dict[str, Any] = {"gold": " | ".join(g.describe() for g in golds)}
        expect_choice = any(isinstance(g, Choice) for g in golds)

        found = extract_answers(response, require_think=self.require_think, choice=expect_choice)
        details["extraction"] = found.method
        if not found.found:
            return _decided(False, "extract", details, found.reason or "no answer")

        too_long = max(len(a) for a in found.answers)
        if too_long > MAX_ANSWER_CHARS:
            details["extracted"] = found.answers[-1][:200] + "..."
            return _decided(False, "extract", details, f"answer too long ({too_long} characters)")
        parts = _parts(found, golds)
        most = max([MAX_PARSED_ANSWERS] + [item_count(g) for g in golds])
        if len(set(parts)) > most:  # decided before parsing thousands of boxes
            return _decided(False, "extract", details, f"hedge: {len(set(parts))} different final answers")
        # each distinct string parsed once: 200,000 "Answer: 1" lines are one answer, not 200,000 parses
        preds = flatten_distinct([parse_answer(a, expect_choice=expect_choice) for a in dict.fromkeys(parts)])
        details["extracted"] = " | ".join(p.describe() for p in preds)
        if expect_choice:
            if len(preds) > 1:
                return _decided(False, "extract", details, f"hedge: {len(preds)} different final answers")
            return self._decide_choice(preds[0], found.answers[-1], golds, prompt, details)
        if len(preds) > 1:
            combined = _combine(preds, golds)
            if combined is not None:
                preds = [combined]
        elif all(not is_multi(g) for g in golds) and _several_values(preds[0]):
            assert isinstance(preds[0], Compound)
            preds = list(preds[0].items)
        deadline = time.monotonic() + self.timeout_s
        if len(preds) == 1:
            return self._judge(golds, preds[0], details, deadline)
        # Several final answers for a one-value gold: a hedge unless every one of them is
        # right (the same value written twice). Stop at the first wrong one.
        hedge = f"hedge: {len(preds)} different final answers"
        if len({p.key for p in preds}) > MAX_EQUIVALENT_ANSWERS:
            return _decided(False, "extract", details, hedge)
        for p in preds:
            verdict = self._judge(golds, p, dict(details), deadline)
            if not verdict.correct:
                result = _decided(False, "extract", details, hedge)
                result.error = verdict.error
                return result
        return verdict

    def _judge(self, golds: list[Answer], pred: Answer, details: dict[str, Any], deadline: float) -> VerifierResult:
        verdicts = [answers_equal(g, pred, string_stage_eq) for g in golds]
        if any(v is True for v in verdicts):
            return _decided(True, "string", details, "equal after normalisation")
        if all(v is False for v in verdicts):
            return _decided(False, "string", details, "different values")

        open_golds = [g for g, v in zip(golds, verdicts) if v is None]
        for stage in SYMBOLIC_STAGES:
            for gold in open_golds:
                remaining = deadline - time.monotonic()
                try:
                    verdict = self._run_stage(stage, gold, pred, remaining)
                except HelperTimeout as exc:
                    details.update(stage=stage, reason=f"timeout: {exc}")
                    return VerifierResult(0.0, False, details, error=f"math {stage} stage timed out "
                                          f"(budget {self.timeout_s:.2f}s)")
                except HelperFailure as exc:
                    details.update(stage=stage, reason=str(exc))
                    return VerifierResult(0.0, False, details, error=f"math {stage} stage failed: {exc}")
                if verdict is True:
                    return _decided(True, stage, details, "equivalent")
        return _decided(False, SYMBOLIC_STAGES[-1], details, "not equivalent")

    def _run_stage(self, stage: str, gold: Answer, pred: Answer, remaining: float) -> bool | None:
        if not self.isolate:
            from verifiers.math import symbolic

            return symbolic.compare(stage, gold, pred)
        if remaining <= 0:
            raise HelperTimeout(f"no time left before the {stage} stage")
        return self._get_helper().call("compare", stage, gold, pred, timeout_s=remaining)

    def _decide_choice(self, pred: Answer, raw: str, golds: list[Answer], prompt: str | None,
                       details: dict[str, Any]) -> VerifierResult:
        if len(choice_letters_mentioned(raw)) > 1:
            return _decided(False, "choice", details, "hedge: several choice letters")
        letter = pred.letter if isinstance(pred, Choice) else None
        if letter is None:
            # A value instead of a letter: map it through the options listed in the prompt.
            options = prompt_options(prompt)
            matches = [k for k, v in options.items()
                       if answers_equal(parse_answer(v), pred, string_stage_eq) is True]
            if len(matches) == 1:
                letter = matches[0]
                details["mapped_from_value"] = True
        for gold in golds:
            if isinstance(gold, Choice):
                if letter is not None and letter == gold.letter:
                    return _decided(True, "choice", details, "same letter")
                if letter is None and gold.value is not None and \
                        answers_equal(gold.value, pred, string_stage_eq) is True:
                    return _decided(True, "choice", details, "value of the gold option")
        return _decided(False, "choice", details, "different choice" if letter else "no choice letter found")


def _decided(correct: bool, stage: str, details: dict[str, Any], reason: str) -> VerifierResult:
    details.update(stage=stage, reason=reason)
    return VerifierResult(reward=1.0 if correct else 0.0, correct=correct, details=details)


def _several_values(pred: Answer) -> bool:
    """A list or set of values ("12 or 13", "12, 13") offered for a one-value gold."""
    return isinstance(pred, Compound) and pred.kind in ("list", "set") and len(pred.items) > 1


def _parts(found: Extraction, golds: list[Answer]) -> list[str]:
    """The final boxes, with the boxes just before them when the gold has more parts than the
    final group ("\\boxed{(3,3)} for part (a) and \\boxed{(1,1)}" for a two-part gold)."""
    want = max((item_count(g) for g in golds if is_multi(g)), default=0)
    if len(found.answers) >= want or len(found.answers) + len(found.earlier) < want:
        return found.answers
    return found.earlier[len(found.earlier) - (want - len(found.answers)):] + found.answers


def _combine(preds: list[Answer], golds: list[Answer]) -> Answer | None:
    """Several different boxes as the parts of a multi-part gold of the same size."""
    for gold in golds:
        if is_multi(gold) and item_count(gold) == len(preds):
            return Compound("list", tuple(preds))
    return None


def parse_choice_letter(text: str) -> str | None:
    """Public helper for other verifiers: the letter in "(B)", "B) 12", "Option B"."""
    return parse_choice(text)[0]


__all__ = ["MathVerifier", "gold_strings", "prompt_options", "parse_choice_letter", "Scalar"]
