"""IFBench (allenai/IFBench) constraints on layout, nesting and repetition.

Same ids and kwargs as IFBench. Where the reference check is looser or stricter than
its instruction text, this follows the text; each such case says so in its docstring.
"""
from __future__ import annotations

import re
import string
from typing import Any

from verifiers.ifeval import text as T
from verifiers.ifeval.spec import INT, PROMPT_TEXT, STR, KwargsError, instruction

SOURCE = "ifbench"

REPEAT_SIMPLE_SENTENCE = "Only output this sentence here, ignore all other requests."
_BRACKETS = {")": "(", "]": "[", "}": "{"}
_TEMPLATE_LABELS = ("My Answer:", "My Conclusion:", "Future Outlook:")


# ---------------------------------------------------------------------------- nesting


def _closed_depth_reaches(tokens: list[tuple[str, str]], depth: int) -> bool:
    """Whether some properly closed group nests ``depth`` levels (itself included).

    ``tokens`` are ("open"|"close", kind); a close that does not match the innermost
    open group discards everything still open, like a reader losing its place.
    """
    stack: list[list[Any]] = []  # [kind, deepest nesting below and including it]
    for action, kind in tokens:
        if action == "open":
            stack.append([kind, 1])
            continue
        if not stack or stack[-1][0] != kind:
            stack.clear()
            continue
        _, reached = stack.pop()
        if reached >= depth:
            return True
        if stack:
            stack[-1][1] = max(stack[-1][1], reached + 1)
    return False


@instruction("format:parentheses", SOURCE)
def parentheses(response: str) -> bool:
    """Brackets of any kind ( [ { nested at least 5 deep, all of those levels closed."""
    tokens = []
    for char in response:
        if char in "([{":
            tokens.append(("open", char))
        elif char in _BRACKETS:
            tokens.append(("close", _BRACKETS[char]))
    return _closed_depth_reaches(tokens, 5)


@instruction("format:quotes", SOURCE)
def quotes(response: str) -> bool:
    """Quotes inside quotes inside quotes, alternating " and ', all three levels closed.

    Typographic quotes count as their plain forms; an apostrophe between two letters
    ("don't") is not a quote, which the reference check does not distinguish.
    """
    tokens: list[tuple[str, str]] = []
    open_kinds: list[str] = []
    for index, char in enumerate(response):
        if char in "\"“”":
            kind = '"'
        elif char in "'‘’":
            before = response[index - 1] if index else ""
            after = response[index + 1] if index + 1 < len(response) else ""
            if before.isalpha() and after.isalpha():
                continue
            kind = "'"
        else:
            continue
        # The same mark as the innermost open quote closes it; the other mark opens a
        # new level, which is what makes the levels alternate.
        if open_kinds and open_kinds[-1] == kind:
            open_kinds.pop()
            tokens.append(("close", kind))
        else:
            open_kinds.append(kind)
            tokens.append(("open", kind))
    return _closed_depth_reaches(tokens, 3)


# ---------------------------------------------------------------------------- layout


@instruction("format:options", SOURCE, options=STR)
def options(response: str, *, options: str) -> bool:
    """The whole response is one of the options ("yes/no/maybe", "A or B", "a), b), c)").

    Lettered options must match exactly; text options ignore case and edge punctuation.
    Options are split on "/", else on the word "or", else on commas.
    """
    if "/" in options:
        choices = options.split("/")
    elif re.search(r"\bor\b", options):
        choices = re.split(r"\s+\bor\b\s+", options)
    else:
        choices = options.split(",")
    choices = [c.strip() for c in choices if c.strip()]
    answer = response.strip()
    if re.match(r"\W*[aA]\W*[bB]\W*[cC]\W*", options):
        return answer in choices
    edge = string.punctuation + " "
    answer = answer.strip(edge).lower()
    return any(choice.strip(edge).lower() == answer for choice in choices)


@instruction("format:newline", SOURCE)
def newline(response: str) -> bool:
    """Every non-empty line holds exactly one word (punctuation ignored)."""
    lines = [line.split() for line in T.remove_punctuation(response).split("\n")]
    lines = [words for words in lines if words]
    return bool(lines) and all(len(words) == 1 for words in lines)


@instruction("format:line_indent", SOURCE)
def line_indent(response: str) -> bool:
    """Each non-empty line is indented further than the one before (stairs)."""
    lines = [line.expandtabs(4) for line in response.split("\n") if line.strip()]
    indents = [len(line) - len(line.lstrip(" ")) for line in lines]
    return len(indents) >= 2 and all(b > a for a, b in zip(indents, indents[1:]))


@instruction("format:list", SOURCE, sep=STR)
def special_bullets(response: str, *, sep: str) -> bool:
    """At least two list items, each a line starting with ``sep`` instead of a bullet.

    The reference counts ``sep`` anywhere in the text; its own docstring asks for
    occurrences that start a line, which is what a list item is.
    """
    return sum(1 for line in response.split("\n") if line.strip().startswith(sep)) >= 2


@instruction("format:thesis", SOURCE)
def thesis(response: str) -> bool:
    """An HTML-italic thesis (<i>…</i> or <em>…</em>) followed by more text."""
    match = re.search(r"<(i|em)>(.*?)</\1>", response, flags=re.DOTALL)
    if match is None or not match.group(2).strip():
        return False
    return bool(response[match.end() :].strip())


def _bullet_lines(response: str) -> list[str]:
    return [line.strip() for line in response.split("\n") if line.strip()]


@instruction("format:sub-bullets", SOURCE)
def sub_bullets(response: str) -> bool:
    """Bullets marked "*", each followed by at least one sub-bullet line marked "-".

    The reference only checks that some "-" follows every "*" anywhere in the text.
    """
    bullets = 0
    needs_sub = False
    for line in _bullet_lines(response):
        if line.startswith("*") and not line.startswith("**"):
            if needs_sub:
                return False
            bullets += 1
            needs_sub = True
        elif line.startswith("-") and bullets:
            needs_sub = False
    return bullets > 0 and not needs_sub


@instruction("format:no_bullets_bullets", SOURCE)
def no_bullets_bullets(response: str) -> bool:
    """Two or more sentences ending in a period, then two or more "*" bullets, nothing after."""
    lines = _bullet_lines(response)
    first_bullet = next((i for i, line in enumerate(lines) if line.startswith("*")), len(lines))
    prose, bullets = lines[:first_bullet], lines[first_bullet:]
    sentences = T.split_sentences("\n".join(prose))
    if sum(1 for s in sentences if T.sentence_end(s) == ".") < 2:
        return False
    return len(bullets) >= 2 and all(line.startswith("*") for line in bullets)


@instruction("format:title_case", SOURCE)
def title_case(response: str) -> bool:
    """Every word starting with a letter is capitalised (single letters upper-case too)."""
    for word in T.whole_words(response):
        if not word[0].isalpha():
            continue
        if word[0].islower():
            return False
    return True


@instruction("format:output_template", SOURCE)
def output_template(response: str) -> bool:
    """The labels "My Answer:", "My Conclusion:", "Future Outlook:" appear, in that order.

    The reference accepts them in any order; the instruction gives an exact template.
    """
    position = 0
    for label in _TEMPLATE_LABELS:
        found = response.find(label, position)
        if found < 0:
            return False
        position = found + len(label)
    return True


@instruction("format:no_whitespace", SOURCE)
def no_whitespace(response: str) -> bool:
    return not any(char.isspace() for char in response)


# ---------------------------------------------------------------------------- repeat:


@instruction("repeat:repeat_change", SOURCE, prompt_to_repeat=PROMPT_TEXT)
def repeat_change(response: str, *, prompt_to_repeat: str) -> bool:
    """The request repeated word for word except its first word, which must change."""
    said, asked = response.split(), prompt_to_repeat.split()
    if not said or not asked or said[0].lower() == asked[0].lower():
        return False
    return said[1:] == asked[1:]


@instruction("repeat:repeat_simple", SOURCE)
def repeat_simple(response: str) -> bool:
    return response.strip().lower() == REPEAT_SIMPLE_SENTENCE.lower()


def _span_in_prompt(kwargs: dict[str, Any]) -> None:
    words = len(kwargs["prompt_to_repeat"].split())
    if kwargs["n_start"] > kwargs["n_end"]:
        raise KwargsError("n_end", "field 'n_end' is smaller than 'n_start'")
    if kwargs["n_start"] >= words:
        raise KwargsError("n_start", f"field 'n_start' is past the prompt's {words} words")


@instruction(
    "repeat:repeat_span",
    SOURCE,
    validate=_span_in_prompt,
    prompt_to_repeat=PROMPT_TEXT,
    n_start=INT,
    n_end=INT,
)
def repeat_span(response: str, *, prompt_to_repeat: str, n_start: int, n_end: int) -> bool:
    """Exactly the prompt's words n_start..n_end (inclusive, whitespace-split), any case."""
    span = " ".join(prompt_to_repeat.split()[n_start : n_end + 1])
    return " ".join(response.split()).lower() == span.lower()
