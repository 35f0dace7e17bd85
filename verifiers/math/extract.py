"""Find the final answer(s) in a model response.

Order (the first kind found wins): ``\\boxed{}``/``\\fbox{}``, "Answer:" lines, GSM8K
``####``, "the answer is ...", bold ``**x**``, the last LaTeX maths span when no number follows
it, the final number. Reasoning inside
``<think>...</think>`` is dropped first: only the text after the last ``</think>`` counts,
and an unclosed ``<think>`` means the model never answered.

Self-correction: the LAST final answer counts ("at first \\boxed{17}; checking again,
\\boxed{19}" answers 19). Only answers offered together at the end (boxes joined by "or",
"and", commas or spaces: "\\boxed{17} or \\boxed{19}") are returned together, so the caller
can tell a hedge from the parts of a multi-part answer. A placeholder box (empty,
``\\boxed{\\phantom{2}}``, ``\\boxed{?}``: quoted from the question) is not a final answer;
an unclosed ``\\boxed{`` after the last closed box (a truncated response) means no answer.
"""
from __future__ import annotations

import dataclasses
import re

from verifiers.math.normalize import match_brace

MAX_RESPONSE_CHARS = 200_000  # longer responses are cut from the front: answers sit at the end


@dataclasses.dataclass
class Extraction:
    answers: list[str]
    method: str  # boxed | answer_line | hash | answer_is | bold | latex | last_number | choice | none
    reason: str | None = None  # why nothing was found
    earlier: list[str] = dataclasses.field(default_factory=list)  # boxes before ``answers``, oldest first

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


_BOX = re.compile(r"\\(?:boxed|fbox)\b\s*")


def box_spans(text: str) -> tuple[list[tuple[int, int, str]], int]:
    """((start, end, content) of every top-level box, start of the last unclosed box or -1)."""
    out: list[tuple[int, int, str]] = []
    unclosed = -1
    i = 0
    while True:
        m = _BOX.search(text, i)
        if m is None:
            return out, unclosed
        j = m.end()
        if j < len(text) and text[j] == "{":
            close = match_brace(text, j)
            if close < 0:
                unclosed = m.start()  # unbalanced (a truncated response): not an answer
                i = j
                continue
            out.append((m.start(), close + 1, text[j + 1: close]))
            i = close + 1
        else:
            # "\boxed 5": the argument is the next token
            tok = re.match(r"[^\s$]+", text[j:])
            if tok:
                out.append((m.start(), j + tok.end(), tok.group(0)))
            i = j + 1


def boxed_contents(text: str) -> list[str]:
    """Contents of every top-level \\boxed{...} / \\fbox{...} (nested braces respected)."""
    return [content for _, _, content in box_spans(text)[0]]


_PLACEHOLDER = re.compile(
    r"(?:\s|\\(?:[hv]?phantom|hspace|vspace)\s*\{[^{}]*\}|\\(?:underline|text|mathrm)\s*\{(?:[\s_?.~]|\\hspace\s*\{[^{}]*\})*\}|\\(?:quad|qquad|square|Box|ldots|dots|cdots)\b"
    r"|\\[,;:! ]|[?_.~$]|\{|\})*"
)
# What may sit between boxes offered together as one final answer: "or", "and", commas, spacing.
_TOGETHER = re.compile(
    r"(?:\s|[,;&$]|\\[,;:! ]|\\q?quad\b|\\[()\[\]]|\\text\s*\{\s*(?:or|and|,)?\s*\}|\bor\b|\band\b)*"
)


def is_placeholder(content: str) -> bool:
    """An empty or blank box ("\\boxed{}", "\\boxed{\\phantom{2}}", "\\boxed{?}"): not an answer."""
    return _PLACEHOLDER.fullmatch(content) is not None


MAX_GAP_IN_GOLD = 12  # a gold's boxes this close together ("\\boxed{1} papers and \\boxed{2}") are one answer


def final_boxes(text: str, loose: bool = False) -> tuple[list[str], str | None, int]:
    """The last box and the boxes offered together with it: (boxes, None, end of the last box), or
    ([], reason, -1) when the last box is unclosed. Together means joined by "or", "and", commas
    or spacing; ``loose`` (for a gold, which cannot hedge) also joins boxes a few words apart."""
    spans, unclosed = box_spans(text)
    spans = [s for s in spans if not is_placeholder(s[2])]
    if unclosed >= 0 and (not spans or unclosed > spans[-1][0]):
        return [], "unclosed \\boxed{: the final answer was cut off", -1
    if not spans:
        return [], None, -1
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        between = text[prev[1]: group[0][0]]
        together = len(between) <= 40 and _TOGETHER.fullmatch(between) is not None
        if loose:
            together = together or (len(between) <= MAX_GAP_IN_GOLD and "\n" not in between)
        if not together:
            break
        group.insert(0, prev)
    return [content for _, _, content in group], None, spans[-1][1]


def earlier_boxes(text: str, count: int) -> list[str]:
    """Every non-placeholder box's content, oldest first, less the last ``count``."""
    contents = [c for c in boxed_contents(text) if not is_placeholder(c)]
    return contents[: max(len(contents) - count, 0)]


_ANSWER_LINE = re.compile(
    # possessive `*+`: the leading run never gives characters back, so a line of a million "*" fails in
    # linear time (the two star-eating quantifiers used to try every split of it)
    r"(?im)^[ \t>#*_-]*+\s*(?:the\s+)?(?:final\s+)?answer\s*(?:\*\*)?\s*[:\uff1a]\s*(?:\*\*)?[ \t]*(.*)$"
)
_NEXT_LINE = re.compile(r"\s*\n([^\n]*)")
_HASH = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(
    r"(?i)\b(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|will\s+be|should\s+be)\s*[:=]?\s*"
)
_FINAL_IS = re.compile(r"(?i)\bfinal\s+answer\s+(?:is|would\s+be|will\s+be)\s*[:=]?\s*")
_BOLD = re.compile(r"\*\*([^*\n]{1,120}?)\*\*")
_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+|(?=\.\d))(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?(?:\s*(?:\\%|%))?"
    r"|-?\\[dt]?frac\s*\{[^{}]*\}\s*\{[^{}]*\}"
)
_VERB_TAIL = re.compile(r"(?i)^.*\b(?:is|are|equals|was|be|gives|of)\b\s*[:=]?\s*")


def _stated_after(text: str, start: int) -> str | None:
    """A final-answer line ("Final Answer: ...", "The final answer is ...") after ``start``."""
    tail = text[start:]
    lines = [m for m in _ANSWER_LINE.finditer(tail) if m.group(1).strip()]
    said = list(_FINAL_IS.finditer(tail))
    if lines:
        line = _clean_line(lines[-1].group(1))
    elif said:
        line = _clean_line(_sentence(tail[said[-1].end():]))
    else:
        return None
    # "... the final answer is correct": a check, not an answer; a restated answer holds maths.
    return line if line and re.search(r"[0-9\\]", line) else None


def _clean_line(text: str) -> str:
    s = text.strip()
    inner = boxed_contents(s)
    if inner:
        return inner[-1]
    said = _ANSWER_IS.search(s)
    if said:  # "Final Answer: The final answer is $5$. I hope it is correct."
        s = _sentence(s[said.end():])
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

    boxes, cut, boxes_end = final_boxes(text)
    if cut is not None:
        return Extraction([], "none", cut)
    if boxes:
        restated = _stated_after(text, boxes_end)
        if restated is not None:  # "\\boxed{255} ... Final Answer: 10,455": the last statement wins
            return Extraction([restated], "answer_line")
        return Extraction(boxes, "boxed", earlier=earlier_boxes(text, len(boxes)))

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
    span = _last_math_span(text)
    if span is not None:
        return Extraction([span], "latex")
    if nums:
        return Extraction(nums, "last_number")
    return Extraction([], "none", "no final answer found")


_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$]+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_PROSE = re.compile(r"[A-Za-z]{3,}[ \t]+[A-Za-z]{2,}")


def _last_math_span(text: str) -> str | None:
    """The last LaTeX maths span ($..$, $$..$$, \\(..\\), \\[..\\]) when no number follows it.

    A span holding prose ("$5 and the rest cost $") is a pair of currency signs, not maths.
    """
    spans = [m for m in _MATH_SPAN.finditer(text)]
    for m in reversed(spans):
        content = next(g for g in m.groups() if g is not None).strip()
        bare = re.sub(r"\\[A-Za-z]+\s*\{[^{}]*\}|\\[A-Za-z]+", " ", content)
        if not content or _PROSE.search(bare):
            continue
        if re.search(r"\d", text[m.end():]):
            return None  # a number after the last maths: the final-number rule decides
        return content
    return None


def _plausible_bold(text: str) -> bool:
    s = text.strip()
    if not s or s.endswith(":") or re.search(r"(?i)\b(step|answer|solution|note|case)\b", s):
        return False
    return bool(re.search(r"\d|\\|^\(?[A-E]\)?$", s))
