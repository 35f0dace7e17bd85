"""String-level normalisation of maths answers and exact parsing of number literals.

Everything here is plain Python on short strings (regexes are linear, no sympy), so it is
safe to run in the caller's process without a timeout. Number literals are parsed into
exact :class:`fractions.Fraction` values together with the precision they state, which is
what the tolerance rules in :mod:`verifiers.math.compare` need.
"""
from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

# Exponents beyond this are not turned into exact Fractions here: 10**big is computed
# eagerly by Fraction and could stall the caller. Such literals go to the isolated stages.
MAX_LITERAL_EXPONENT = 400
MAX_LITERAL_DIGITS = 200

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20,
}

# Words dropped after a number ("12 apples" -> 12). Units are never converted: "5 cm" and
# "5 m" both become 5, as in the MiroMind cascade; a verifier cannot know the intended unit.
_UNIT_WORD = r"[A-Za-z][A-Za-z.]*(?:\s*(?:/|\^|per\s)\s*[A-Za-z0-9{}.^]+)*"
_TEXT_COMMANDS = ("text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathbf",
                  "mathit", "mbox", "operatorname", "rm", "bf", "mathsf", "texttt")


@dataclasses.dataclass(frozen=True)
class NumLit:
    """An exact number literal and the precision it states.

    tol is half a unit in the last stated place (0 for integers and fractions, which are
    exact); decimals is the count of digits after the point (of the mantissa for
    scientific notation); sig is the count of significant digits.
    """

    value: Fraction
    kind: str  # "int" | "decimal" | "sci" | "fraction"
    tol: Fraction
    decimals: int
    sig: int

    @property
    def exact(self) -> bool:
        return self.tol == 0


def match_brace(s: str, i: int) -> int:
    """Index of the '}' closing the '{' at s[i], or -1 when unbalanced."""
    depth = 0
    for k in range(i, len(s)):
        c = s[k]
        if c == "\\":
            continue
        if c == "{" and (k == 0 or s[k - 1] != "\\"):
            depth += 1
        elif c == "}" and (k == 0 or s[k - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return k
    return -1


def unwrap_commands(s: str, names: tuple[str, ...] = _TEXT_COMMANDS) -> str:
    """Replace ``\\name{X}`` by X for each command name (nested braces respected)."""
    pattern = re.compile(r"\\(" + "|".join(names) + r")\s*\{")
    out = s
    for _ in range(50):  # bounded: each pass removes one wrapper
        m = pattern.search(out)
        if m is None:
            break
        open_at = m.end() - 1
        close_at = match_brace(out, open_at)
        if close_at < 0:
            out = out[: m.start()] + out[m.end():]
            continue
        out = out[: m.start()] + out[open_at + 1: close_at] + out[close_at + 1:]
    return out


def strip_delimiters(s: str) -> str:
    """Remove surrounding $...$, \\(...\\), \\[...\\] and stray dollar signs used as maths quotes."""
    s = s.strip()
    for _ in range(5):
        before = s
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
                s = s[len(left): len(s) - len(right)].strip()
        if s == before:
            break
    # A lone "$ $" pair in the middle ("a+$ $b") is a typesetting artefact, as is a "$" that is
    # not a currency sign (currency is written "\$" in LaTeX and handled as a unit).
    s = re.sub(r"(?<!\\)\$", " ", s)
    return s.strip()


def clean_latex(s: str) -> str:
    """Typesetting-only changes: spacing, sizing, \\left/\\right, frac spellings, \\sqrt2."""
    s = s.replace("\n", " ").replace("\u2212", "-").replace("\u00d7", "\\times ").replace("\u22c5", "\\cdot ")
    s = s.replace("\u03c0", "\\pi ").replace("\u221e", "\\infty ").replace("\u00b1", "\\pm ")
    s = s.replace("\u2264", "\\le ").replace("\u2265", "\\ge ").replace("\u00b7", "\\cdot ")
    if "\\begin" not in s:
        # "\\frac" (a JSON-escaped backslash left doubled) is "\frac"; a matrix's "\\" row break stays.
        s = re.sub(r"\\\\(?=[A-Za-z()\[\]{}])", r"\\", s)
    s = re.sub(r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)\b", " ", s)
    s = re.sub(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|biggl|biggr)(?![A-Za-z])\s*", "", s)
    # "11,\! 111,\! 100": a thousands separator with a negative thin space.
    s = re.sub(r"(?<=\d),\s*\\!\s*(?=\d{3}(?!\d))", ",", s)
    s = re.sub(r"(?<!\\)\\[!,;:> ]", " ", s)  # not a matrix row break (two backslashes, a space)
    s = re.sub(r"\\q?quad\b", " ", s)
    s = s.replace("~", " ")
    s = re.sub(r"\\[dtc]frac\b", r"\\frac", s)
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*([A-Za-z0-9])", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*([A-Za-z0-9])\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\sqrt\s*([A-Za-z0-9])", r"\\sqrt{\1}", s)
    s = re.sub(r"\\(?:le|leq|leqslant)\b", r"\\le", s)
    s = re.sub(r"\\(?:ge|geq|geqslant)\b", r"\\ge", s)
    s = re.sub(r"\\(?:neq|ne)\b", r"\\ne", s)
    # ASCII and named relations: "x >= 5" is "x \\ge 5", "x != 3" is "x \\ne 3", "\\lt" is "<".
    s = s.replace(">=", "\\ge ").replace("<=", "\\le ").replace("!=", "\\ne ")
    s = re.sub(r"\\lt\b", "<", s)
    s = re.sub(r"\\gt\b", ">", s)
    s = _canonical_matrix(s)
    s = re.sub(r"(?<![A-Za-z\\])pi(?![A-Za-z])", r"\\pi", s)
    s = s.replace("{,}", ",")
    s = re.sub(r"\s+", " ", s)
    return s.strip()


def _canonical_matrix(s: str) -> str:
    """bmatrix, pmatrix and a bracketed array are one matrix: all become pmatrix.

    Runs after \\left/\\right are removed, so "\\left[\\begin{array}{cc}..\\end{array}\\right]" is
    "[\\begin{array}{cc}..\\end{array}]" here. A row separator before \\end is dropped.
    """
    if "\\begin" not in s:
        return s
    s = re.sub(r"[\[(]\s*\\begin\{array\}\s*\{[lcr|\s]*\}(.*?)\\end\{array\}\s*[\])]",
               r"\\begin{pmatrix}\1\\end{pmatrix}", s, flags=re.S)
    s = re.sub(r"\\(begin|end)\{[bB]?matrix\}", r"\\\1{pmatrix}", s)
    s = re.sub(r"\(\s*(\\begin\{pmatrix\}.*?\\end\{pmatrix\})\s*\)", r"\1", s, flags=re.S)
    return re.sub(r"(?:\\\\\s*)+\\end\{pmatrix\}", r"\\end{pmatrix}", s)


def remove_thousands_separators(s: str) -> str:
    """1,234,567 / 1{,}234 / 1\\,234 / 1 234 567 -> 1234567 (only groups of exactly three digits)."""
    def join(m: re.Match[str]) -> str:
        return re.sub(r"[ ,]", "", m.group(0))

    # A comma group counts only when not followed by more digits or a decimal point
    # inside the same token, and not preceded by a decimal part (0.123,456 is a list).
    # "(12,102)" is a pair, not twelve thousand: a lone group between brackets is left alone.
    s = re.sub(r"(?<![\d.(\[])\d{1,3}(?:,\d{3})+(?![\d])|(?<=[(\[])\d{1,3}(?:,\d{3})+(?![\d)\]])", join, s)
    s = re.sub(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d,]|\.\d)", join, s)
    return s


def strip_trailing_punctuation(s: str) -> str:
    s = s.strip()
    while s and s[-1] in ".;:!" and not s.endswith("\\!"):
        if s.endswith("...") or s.endswith("\\ldots"):
            break
        s = s[:-1].rstrip()
    return s


_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\s(?:per\s?cent|percent)\b\.?)\s*$", re.I)
_DEGREE_RE = re.compile(
    r"\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree|\s(?:degrees?|deg)\b\.?)\s*$", re.I
)


def take_percent(s: str) -> tuple[str, bool]:
    m = _PERCENT_RE.search(s)
    if m and m.start() > 0:
        return s[: m.start()].strip(), True
    return s, False


def take_degree(s: str) -> tuple[str, bool]:
    # "30^\circ C" (a temperature) keeps its number; the unit letter is dropped by the unit rule.
    s2 = re.sub(r"(\^\s*\{?\s*\\circ\s*\}?|°)\s*[CF]\s*$", "", s)
    if s2 != s:
        return s2.strip(), False
    m = _DEGREE_RE.search(s)
    if m and m.start() > 0:
        return s[: m.start()].strip(), True
    return s, False


def strip_units(s: str) -> str:
    """Drop currency signs and trailing unit text after a value.

    Trailing ``\\text{..}``/``\\mathrm{..}`` is dropped after any non-empty value; trailing
    plain words (at least two letters, like "cm", "dollars", "m/s^2") only after a number,
    so that a variable such as the m in "\\frac{37}{4} m" stays.
    """
    s = re.sub(r"^\s*(?:\\\$|US\$|\$|USD\s)\s*", "", s)
    s = re.sub(r"\\\$", "", s)
    for _ in range(4):
        # "10\\text{ m}^2": a unit may carry an exponent.
        m = re.search(r"\s*\\(?:" + "|".join(_TEXT_COMMANDS) + r")\s*\{([^{}]*)\}\s*(?:\^\s*\{?\s*-?\d\s*\}?)?\s*$", s)
        if m is None or m.start() == 0:
            break
        inner = m.group(1).strip()
        head = s[: m.start()].strip()
        # "(B)\text{ 12}" or "x \text{ or } y": keep; only unit-like text is removed.
        if not re.fullmatch(r"[~\s]*" + _UNIT_WORD + r"[\s.]*", inner) or inner.lower() in ("or", "and"):
            break
        s = head
    m = re.fullmatch(r"(.*?\d)\s*(" + _UNIT_WORD + r")\s*\.?", s)
    if m and len(re.sub(r"[^A-Za-z]", "", m.group(2))) >= 2 and parse_number(m.group(1)) is not None:
        return m.group(1).strip()
    return s.strip()


def word_to_number(s: str) -> str:
    key = s.strip().lower().rstrip(".")
    if key in NUMBER_WORDS:
        return str(NUMBER_WORDS[key])
    return s


_INT = r"[+-]?\d+"
_DEC = r"[+-]?(?:\d+\.\d*|\.\d+)"
_SCI_TIMES = re.compile(
    r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:\\times|\\cdot|\*|x|×)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?\s*$"
)
_SCI_E = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))[eE]([+-]?\d+)\s*$")
_POW10 = re.compile(r"^\s*([+-]?)10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?\s*$")
_FRAC_LATEX = re.compile(r"^\s*([+-]?)\s*\\frac\{\s*([+-]?\d+)\s*\}\{\s*([+-]?\d+)\s*\}\s*$")
_FRAC_SLASH = re.compile(r"^\s*([+-]?\d+)\s*/\s*([+-]?\d+)\s*$")


def _digits_ok(text: str) -> bool:
    return sum(c.isdigit() for c in text) <= MAX_LITERAL_DIGITS


def _decimal_lit(mantissa: str, exponent: int = 0, kind: str = "decimal") -> NumLit:
    m = mantissa.strip()
    sign = -1 if m.startswith("-") else 1
    m = m.lstrip("+-")
    int_part, _, frac_part = m.partition(".")
    decimals = len(frac_part)
    digits = (int_part + frac_part).lstrip("0")
    sig = max(len(digits), 1)
    value = Fraction(int(int_part or "0") * 10**decimals + int(frac_part or "0"), 10**decimals) * sign
    scale = Fraction(10) ** exponent
    if kind == "sci":
        tol = Fraction(1, 2) * Fraction(10) ** (exponent - decimals)
    elif decimals == 0:
        tol = Fraction(0)
        kind = "int"
    else:
        tol = Fraction(1, 2 * 10**decimals)
    return NumLit(value * scale, kind, tol, decimals, sig)


def parse_number(text: str) -> NumLit | None:
    """Parse a plain number literal (int, decimal, scientific, integer fraction), else None."""
    s = text.strip().replace(" ", "") if len(text) < 400 else text
    if not s or not _digits_ok(s):
        return None
    s = re.sub(r"^\{(.*)\}$", r"\1", s)
    if re.fullmatch(_INT, s):
        return NumLit(Fraction(int(s)), "int", Fraction(0), 0, max(len(s.lstrip("+-").lstrip("0")), 1))
    if re.fullmatch(_DEC, s):
        return _decimal_lit(s)
    for pattern in (_SCI_TIMES, _SCI_E):
        m = pattern.match(s)
        if m:
            exp = int(m.group(2))
            if abs(exp) > MAX_LITERAL_EXPONENT:
                return None
            return _decimal_lit(m.group(1), exp, "sci")
    m = _POW10.match(s)
    if m:
        exp = int(m.group(2))
        if abs(exp) > MAX_LITERAL_EXPONENT:
            return None
        value = Fraction(10) ** exp * (-1 if m.group(1) == "-" else 1)
        return NumLit(value, "int" if exp >= 0 else "fraction", Fraction(0), 0, 1)
    m = _FRAC_LATEX.match(s) or None
    if m:
        num, den = int(m.group(2)), int(m.group(3))
        if den == 0:
            return None
        value = Fraction(num, den) * (-1 if m.group(1) == "-" else 1)
        return NumLit(value, "fraction", Fraction(0), 0, 0)
    m = _FRAC_SLASH.match(s)
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        if den == 0:
            return None
        return NumLit(Fraction(num, den), "fraction", Fraction(0), 0, 0)
    return None


def canonical_key(latex: str) -> str:
    """The string compared by the normalised-string stage."""
    s = re.sub(r"\s+", "", latex)
    s = re.sub(r"([\^_])\{([A-Za-z0-9])\}", r"\1\2", s)
    s = s.replace("\\left", "").replace("\\right", "")
    s = re.sub(r"^\+", "", s)
    # Plain words ("Yes", "Tuesday") compare case-insensitively; single letters and LaTeX do not.
    if re.fullmatch(r"[A-Za-z][A-Za-z ]+", latex.strip()) and len(latex.strip()) > 1:
        s = s.lower()
    return s
