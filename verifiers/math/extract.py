"""Find the final answer(s) in a model response.

Order (the first kind found wins): ``\\boxed{}``/``\\fbox{}``, "Answer:" lines, GSM8K
``####``, "the answer is ...", bold ``**x**``, the final number. Reasoning inside
``<think>...</think>`` is dropped first: only the text after the last ``</think>`` counts,
and an unclosed ``<think>`` means the model never answered.

Every occurrence of the winning kind is returned (all boxes, all "Answer:" lines) so the
caller can detect hedging: several different final answers score 0.
"""
from __future__ import annotations

import dataclasses
import re

from verifiers.math.normalize import match_brace

MAX_RESPONSE_CHARS = 200_000  # longer responses are cut from the front: answers sit at the end


@dataclasses.dataclass
class Extraction:
    answers: list[str]
    method: str  # boxed | answer_line | hash | answer_is | bold | last_number | choice | none
    reason: str | None = None  # why nothing was found

    @property
    def found(self) -> bool:
        return bool(self.answers)


def strip_think(response: str) -> tuple[str | None, str | None]:
    """(text after the reasoning, None) or (None, reason) when the reasoning never closed."""
    close = response.rfind("</think>")
    if close >= 0:
        return response[close + len("</think>"):], None
    if "<think>" in response:
        return None, "unclosed <think>: the response never left its reasoning"
    return response, None


def boxed_contents(text: str) -> list[str]:
    """Contents of every top-level \\boxed{...} / \\fbox{...} (nested braces respected)."""
    out: list[str] = []
    i = 0
    pattern = re.compile(r"\\(?:boxed|fbox)\b\s*")
    while True:
        m = pattern.search(text, i)
        if m is None:
            return out
        j = m.end()
        if j < len(text) and text[j] == "{":
            close = match_brace(text, j)
            if close < 0:
                i = j  # unbalanced (a truncated response): not an answer
                continue
            out.append(text[j + 1: close])
            i = close + 1
        else:
            # "\boxed 5": the argument is the next token
            tok = re.match(r"[^\s$]+", text[j:])
            if tok:
                out.append(tok.group(0))
            i = j + 1


_ANSWER_LINE = re.compile(
    r"(?im)^[ \t>#*_-]*(?:\**\s*)?(?:the\s+)?(?:final\s+)?answer\s*(?:\*\*)?\s*[:\uff1a]\s*(?:\*\*)?[ \t]*(.*)$"
)
_NEXT_LINE = re.compile(r"\s*\n([^\n]*)")
_HASH = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(
    r"(?i)\b(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|will\s+be|should\s+be)\s*[:=]?\s*"
)
_BOLD = re.compile(r"\*\*([^*\n]{1,120}?)\*\*")
_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?(?:\s*(?:\\%|%))?"
    r"|-?\\[dt]?frac\s*\{[^{}]*\}\s*\{[^{}]*\}"
)
_VERB_TAIL = re.compile(r"(?i)^.*\b(?:is|are|equals|was|be|gives|of)\b\s*[:=]?\s*")


def _clean_line(text: str) -> str:
    s = text.strip()
    inner = boxed_contents(s)
    if inner:
        return inner[-1]
    s = re.sub(r"^\*\*|\*\*$", "", s).strip()
    s = re.sub(r"\*\*", "", s)
    # "Answer: The total is 42 dollars." -> "42 dollars."; maths with "=" stays whole.
    if re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", "", s)):
        tail = _VERB_TAIL.sub("", s)
        if tail and tail != s:
            s = tail
    return s.strip()


def _sentence(text: str) -> str:
    """Text up to the end of the sentence: a period followed by whitespace, or a newline."""
    m = re.search(r"\.(?:\s|$)|\n", text)
    return text[: m.start()] if m else text


def _last_numbers(text: str) -> list[str]:
    nums = list(_NUMBER.finditer(text))
    if not nums:
        return []
    last = nums[-1]
    # "... 12, 13 or 14." at the end is a hedge: return every alternative.
    hedge = re.compile(r"(?:,\s*|\s+or\s+|\s*,\s*or\s+)$")
    group = [last.group(0)]
    k = len(nums) - 1
    while k > 0:
        between = text[nums[k - 1].end(): nums[k].start()]
        if hedge.fullmatch(between) is None and re.fullmatch(r"\s*(?:,\s*)?or\s*", between) is None:
            break
        group.insert(0, nums[k - 1].group(0))
        k -= 1
    if len(group) > 1 and re.search(r"\bor\b", text[nums[k].start(): last.end()]):
        return group
    return [last.group(0)]


def extract_answers(response: str, require_think: bool = False, choice: bool = False) -> Extraction:
    """Find the final answer(s). ``choice``: the gold is a letter, so a trailing "(B)" counts."""
    if len(response) > MAX_RESPONSE_CHARS:
        response = response[-MAX_RESPONSE_CHARS:]
    text, why = strip_think(response)
    if text is None:
        return Extraction([], "none", why)
    if require_think and "</think>" not in response:
        return Extraction([], "none", "no </think>: the format requires reasoning in <think> tags")
    if not text.strip():
        return Extraction([], "none", "empty answer")

    boxes = [b for b in boxed_contents(text) if b.strip()]
    if boxes:
        return Extraction(boxes, "boxed")

    lines = []
    for m in _ANSWER_LINE.finditer(text):
        content = m.group(1)
        if not content.strip():
            # "Answer:" alone on its line: the answer is on the next non-empty line.
            nxt = _NEXT_LINE.match(text, m.end())
            content = nxt.group(1) if nxt else ""
        line = _clean_line(content) if content.strip() else ""
        if line:
            lines.append(line)
    if lines:
        return Extraction(lines, "answer_line")

    hashes = [h.strip() for h in _HASH.findall(text) if h.strip()]
    if hashes:
        return Extraction([_clean_line(h) for h in hashes], "hash")

    said = list(_ANSWER_IS.finditer(text))
    if said:
        phrase = _sentence(text[said[-1].end():]).strip()
        if phrase:
            return Extraction([_clean_line(phrase)], "answer_is")

    bolds = [b for b in _BOLD.findall(text) if _plausible_bold(b)]
    if bolds:
        return Extraction([_clean_line(bolds[-1])], "bold")

    if choice:
        letters = re.findall(r"\(([A-E])\)", text[-300:])
        if letters:
            return Extraction([f"({letters[-1]})"], "choice")

    nums = _last_numbers(text)
    if nums:
        return Extraction(nums, "last_number")
    return Extraction([], "none", "no final answer found")


def _plausible_bold(text: str) -> bool:
    s = text.strip()
    if not s or s.endswith(":") or re.search(r"(?i)\b(step|answer|solution|note|case)\b", s):
        return False
    return bool(re.search(r"\d|\\|^\(?[A-E]\)?$", s))
