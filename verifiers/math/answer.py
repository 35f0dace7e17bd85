"""Parse one extracted answer string into a small structure the comparers can walk.

An answer is a :class:`Scalar` (one value, maybe named ``x = 3``, with percent/degree
flags), a :class:`Compound` (tuple, interval, set, bare list or union) or a :class:`Choice`
(a multiple-choice letter). All fields are plain strings/numbers so the objects pickle
cheaply into the isolated helper process.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Union

from verifiers.math.normalize import (
    NumLit,
    canonical_key,
    clean_latex,
    match_brace,
    parse_number,
    remove_thousands_separators,
    strip_delimiters,
    strip_trailing_punctuation,
    strip_units,
    take_degree,
    take_percent,
    unwrap_commands,
    word_to_number,
)


@dataclasses.dataclass(frozen=True)
class Scalar:
    raw: str
    latex: str  # cleaned value (no name, units, % or degree sign), parseable by latex2sympy
    key: str  # canonical string for the string stage
    name: str | None = None  # "x" for "x = 3"
    percent: bool = False
    degree: bool = False
    number: NumLit | None = None
    round_to: int | None = None  # gold only: decimals the problem asks for ("to the nearest tenth": 1)

    @property
    def equation(self) -> str | None:
        """"y = 2x+1" as an equation, for comparison with an unnamed one ("2x - y + 1 = 0")."""
        return f"{self.name}={self.latex}" if self.name else None

    def describe(self) -> str:
        prefix = f"{self.name}=" if self.name else ""
        suffix = "%" if self.percent else ("°" if self.degree else "")
        return prefix + self.latex + suffix


@dataclasses.dataclass(frozen=True)
class Compound:
    kind: str  # "tuple" (ordered, bracketed; includes intervals) | "set" | "list" (bare) | "union"
    items: tuple["Answer", ...]
    open: str = ""
    close: str = ""
    disjunction: bool = False  # items were joined by "or"

    @property
    def key(self) -> str:
        inner = [i.key for i in self.items]
        if self.kind in ("set", "list", "union"):
            inner = sorted(inner)
        return f"{self.kind}{self.open}{','.join(inner)}{self.close}"

    def describe(self) -> str:
        joiner = " or " if self.disjunction else ", "
        return self.open + joiner.join(i.describe() for i in self.items) + self.close


@dataclasses.dataclass(frozen=True)
class Choice:
    letter: str
    value: "Answer | None" = None  # "(B) 12" keeps 12 so a bare 12 can still match

    @property
    def key(self) -> str:
        return f"choice:{self.letter}"

    def describe(self) -> str:
        return f"({self.letter})"


Answer = Union[Scalar, Compound, Choice]

_GREEK = (
    "alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|"
    "rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega"
)
_NAME = r"(?:[A-Za-z]|\\(?:" + _GREEK + r"))(?:_\{?[A-Za-z0-9]+\}?)?'*"
_NAMED = re.compile(r"^\s*(" + _NAME + r")\s*(=|\\in)(?![=<>])\s*(.+)$", re.S)
_OPEN = {"(": ")", "[": "]"}
_CHOICE = re.compile(
    r"^\s*(?:\(?(?:option|choice|answer)\)?\s*[:.]?\s*)?"
    r"(?:\(([A-Ea-e])\)|\b([A-E])\b(?:\s*[.):]|\s*$))\s*(.*)$",
    re.I | re.S,
)


def _split_top(s: str, seps: tuple[str, ...]) -> list[str]:
    """Split on any separator that sits outside brackets/braces."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(s):
        c = s[i]
        if s.startswith("\\{", i) or s.startswith("\\langle", i):
            depth += 1
            i += 2 if c == "\\" and s[i + 1] == "{" else len("\\langle")
            continue
        if s.startswith("\\}", i) or s.startswith("\\rangle", i):
            depth -= 1
            i += 2 if s[i + 1] == "}" else len("\\rangle")
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            for sep in seps:
                if s.startswith(sep, i):
                    parts.append(s[start:i])
                    start = i + len(sep)
                    i = start - 1
                    break
        i += 1
    parts.append(s[start:])
    return parts


def _outer_brackets(s: str) -> tuple[str, str, str] | None:
    """(open, inner, close) when s is one bracketed group, e.g. "(1, 2]" or "\\{1,2\\}"."""
    for left, right in (("\\{", "\\}"), ("\\langle", "\\rangle")):
        if s.startswith(left) and s.endswith(right):
            inner = s[len(left): len(s) - len(right)]
            if _split_top(inner, ("\\}",)) == [inner] and inner.count(left) == inner.count(right):
                return left, inner, right
    if not s or s[0] not in _OPEN or s[-1] not in ")]":
        return None
    depth = 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return None  # "(x+1)(x-2)": the first group closes early
    return s[0], s[1:-1], s[-1]


def _prepare(text: str) -> str:
    s = strip_delimiters(text)
    s = clean_latex(s)
    s = _unbox(s)
    s = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{\s*(or|and)\s*\}", r" \1 ", s)
    s = re.sub(r"\\(?:lor|vee)\b", " or ", s)
    s = re.sub(r"\*\*|__", "", s)
    s = remove_thousands_separators(s)
    s = strip_trailing_punctuation(s)
    # "(p,q)=(3,2)": the labels name the tuple's members; the value is the tuple.
    s = _LABELLED_TUPLE.sub("", s)
    s = re.sub(r"([)\]])\s*or\s*([(\[])", r"\1 or \2", s)  # "(11,7)or(7,11)"
    s = _bare_brace_set(s.strip())
    return s.strip()


_LABELLED_TUPLE = re.compile(r"^\s*\(\s*" + r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?" + r"(?:\s*,\s*[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?)+\s*\)\s*=\s*(?=[(\[])")


def _bare_brace_set(s: str) -> str:
    """"{-2021, 2021}": plain braces around a list are a set (LaTeX would write "\\{..\\}")."""
    if s.startswith("{") and match_brace(s, 0) == len(s) - 1 and len(_split_top(s[1:-1], (",", ";"))) > 1:
        return "\\{" + s[1:-1] + "\\}"
    return s


def _unbox(s: str) -> str:
    m = re.fullmatch(r"\s*\\(?:boxed|fbox)\s*(\{.*\})\s*", s, re.S)
    if m and match_brace(m.group(1), 0) == len(m.group(1)) - 1:
        return _unbox(m.group(1)[1:-1])
    return s


def parse_choice(text: str) -> tuple[str | None, str]:
    """The choice letter in "(B)", "B", "B) 12", "\\text{(B) }12", "Option B", and the rest."""
    s = unwrap_commands(strip_delimiters(clean_latex(_unbox(text.strip()))))
    s = re.sub(r"\*\*", "", s).strip()
    m = _CHOICE.match(s)
    if m is None:
        return None, s
    letter = (m.group(1) or m.group(2)).upper()
    return letter, m.group(3).strip()


def choice_letters_mentioned(text: str) -> set[str]:
    """Every "(X)"-style letter in a short answer; more than one means a hedge like "(B) or (C)"."""
    s = unwrap_commands(strip_delimiters(text))
    letters = set(re.findall(r"\(([A-E])\)", s))
    if re.fullmatch(r"\s*[A-E](?:\s*(?:,|or|and|/)\s*[A-E])+\s*\.?\s*", s):
        letters |= set(re.findall(r"[A-E]", s))
    return letters


def parse_answer(text: str, expect_choice: bool = False, _depth: int = 0) -> Answer:
    """Parse an answer string (already extracted from the response or taken from the gold)."""
    s = _prepare(text) if _depth == 0 else text.strip()
    if expect_choice and _depth == 0:
        letter, rest = parse_choice(text)
        if letter is not None:
            value = parse_answer(rest, _depth=1) if rest and re.search(r"[0-9A-Za-z]", rest) else None
            return Choice(letter, value)
    if _depth > 8:
        return _scalar(s, s)

    parts = _split_top(s, ("\\cup",))
    if len(parts) > 1 and all(p.strip() for p in parts):
        return Compound("union", tuple(parse_answer(p, _depth=_depth + 1) for p in parts))

    named = _NAMED.match(s)
    if named and named.group(2) == "\\in":
        return parse_answer(named.group(3), _depth=_depth + 1)

    interval = _inequality_interval(s)
    if interval is not None:
        return parse_answer(interval, _depth=_depth + 1)

    outer = _outer_brackets(s)
    if outer is not None:
        left, inner, right = outer
        items = [p for p in _split_top(inner, (",", ";")) if p.strip()]
        if len(items) >= 2 or left == "\\{" or left == "\\langle":
            kind = "set" if left == "\\{" else "tuple"
            return Compound(kind, tuple(parse_answer(p, _depth=_depth + 1) for p in items), left, right)
        if left == "(" and right == ")" and items:
            return parse_answer(items[0], _depth=_depth + 1)

    groups = [p for p in _split_top(s, (";",)) if p.strip()]
    if len(groups) > 1 and all(len(_split_top(g, (",",))) > 1 for g in groups):
        # "p=5, q=2; p=7, q=2": each ";" part is one solution, a tuple of its members.
        return Compound("list", tuple(
            Compound("tuple", tuple(parse_answer(p, _depth=_depth + 2) for p in _split_top(g, (",",)) if p.strip()),
                     "(", ")") for g in groups))
    items = [p for p in _split_top(s, (",", ";")) if p.strip()]
    disjunction = False
    expanded: list[str] = []
    for item in items:
        alternatives = [a for a in re.split(r"\s+(?:or|and)\s+|\s*\\text\{\s*(?:or|and)\s*\}\s*", item) if a.strip()]
        if len(alternatives) > 1 and re.search(r"\s(?:or)\s", item):
            disjunction = True
        expanded.extend(alternatives)
    if len(expanded) >= 2:
        children = tuple(parse_answer(p, _depth=_depth + 1) for p in expanded)
        return Compound("list", children, disjunction=disjunction)

    pm = _expand_plus_minus(s)
    if pm is not None:
        return Compound("list", tuple(parse_answer(p, _depth=_depth + 1) for p in pm))
    return _scalar(text, s)


_ARG = r"(?:\([A-Za-z]\))?"  # "0 < f(x) < 1" bounds a function's value as "0 < y < 1" does
_LESS = r"(<|\\le(?![a-z]))"
_MORE = r"(>|\\ge(?![a-z]))"


def _inequality_interval(s: str) -> str | None:
    """"1 < x \\le 2" -> "(1, 2]"; "x \\ge 3" -> "[3, \\infty)"; "x < 0" -> "(-\\infty, 0)"."""
    if "," in s or "=" in s.replace("\\le", "").replace("\\ge", ""):
        return None
    m = re.fullmatch(r"(?:(.+?)\s*" + _LESS + r"\s*)?\|\s*" + _NAME + r"\s*\|\s*" + _LESS + r"\s*(.+)", s)
    if m:  # "1 \\le |z| \\le 3/2" is [-3/2, -1] \\cup [1, 3/2]; "|z| < 2" is (-2, 2)
        low, low_op, high_op, high = m.group(1), m.group(2), m.group(3), m.group(4)
        right = ")" if high_op == "<" else "]"
        left = "(" if high_op == "<" else "["
        if low is None:
            return f"{left}-({high}), {high}{right}"
        inner_l, inner_r = ("(", ")") if low_op == "<" else ("[", "]")
        return f"{left}-({high}), -({low}){inner_r} \\cup {inner_l}{low}, {high}{right}"
    m = re.fullmatch(r"(.+?)\s*" + _LESS + r"\s*" + _NAME + _ARG + r"\s*" + _LESS + r"\s*(.+)", s)
    if m:
        return ("(" if m.group(2) == "<" else "[") + f"{m.group(1)}, {m.group(4)}" + (")" if m.group(3) == "<" else "]")
    m = re.fullmatch(r"(.+?)\s*" + _MORE + r"\s*" + _NAME + _ARG + r"\s*" + _MORE + r"\s*(.+)", s)
    if m:
        return ("(" if m.group(3) == ">" else "[") + f"{m.group(4)}, {m.group(1)}" + (")" if m.group(2) == ">" else "]")
    m = re.fullmatch(_NAME + _ARG + r"\s*" + _ONE_OP + r"\s*(.+)", s)
    if m:
        return _one_sided(m.group(1), m.group(2))
    m = re.fullmatch(r"-\s*" + _NAME + r"\s*" + _ONE_OP + r"\s*(.+)", s)
    if m:  # "-x > -1" is "x < 1"
        return _one_sided(_FLIP[m.group(1)], f"-({m.group(2)})")
    m = re.fullmatch(r"(.+?)\s*" + _ONE_OP + r"\s*" + _NAME + _ARG, s)
    if m and not re.search(_ONE_OP, m.group(1)):
        # "5 \\le x" is "x \\ge 5"
        return _one_sided(_FLIP[m.group(2)], m.group(1))
    return None


_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le"}


_ONE_OP = r"(<|>|\\le(?![a-z])|\\ge(?![a-z]))"


def _one_sided(op: str, bound: str) -> str:
    """The interval of "x OP bound"."""
    if op in ("<", "\\le"):
        return f"(-\\infty, {bound}" + (")" if op == "<" else "]")
    return ("(" if op == ">" else "[") + f"{bound}, \\infty)"


def _expand_plus_minus(s: str) -> list[str] | None:
    if s.count("\\pm") != 1 or "=" in s.replace("\\pm", ""):
        m = _NAMED.match(s)
        if not (m and s.count("\\pm") == 1):
            return None
        name = m.group(1)
        return [f"{name}={v}" for v in (_expand_plus_minus(m.group(3)) or [])] or None
    head, tail = s.split("\\pm", 1)
    if not tail.strip():
        return None
    if not head.strip():
        return [tail.strip(), f"-({tail.strip()})" if re.search(r"[+\-]", tail.strip()[1:]) else f"-{tail.strip()}"]
    return [f"{head}+{tail}", f"{head}-({tail})"]


def _scalar(raw: str, s: str) -> Scalar:
    name = None
    named = _NAMED.match(s)
    if named and named.group(2) == "=":
        name = re.sub(r"\s+", "", named.group(1))
        # "x = 2 + 1 = 3": the last member is the value.
        s = _split_top(named.group(3), ("=",))[-1]  # top level only: not the "=" of \sum_{k=0}
    s = s.strip()
    s, percent = take_percent(s)
    s, degree = take_degree(s)
    s = strip_units(s)
    if not percent:
        s, percent = take_percent(s)
    if not degree:
        s, degree = take_degree(s)
    s = unwrap_commands(s).strip()
    s = word_to_number(s)
    s = strip_trailing_punctuation(s)
    s = re.sub(r"^\{(.*)\}$", r"\1", s) if s.startswith("{") and match_brace(s, 0) == len(s) - 1 else s
    number = parse_number(s)
    return Scalar(raw=raw.strip(), latex=s, key=canonical_key(s), name=name, percent=percent,
                  degree=degree, number=number)


def flatten_distinct(answers: list[Answer]) -> list[Answer]:
    """Drop answers whose canonical key repeats (the same final answer written twice)."""
    seen: dict[str, Answer] = {}
    for a in answers:
        seen.setdefault(a.key, a)
    return list(seen.values())


def item_count(a: Answer) -> int:
    return len(a.items) if isinstance(a, Compound) else 1


def is_multi(a: Answer) -> bool:
    return isinstance(a, Compound) and a.kind in ("tuple", "set", "list") and len(a.items) > 1
