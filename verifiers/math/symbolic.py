"""The math-verify and sympy stages. They run inside the isolated helper process
(:mod:`verifiers.math.isolate`), which is killed when a stage overruns its budget, so nothing
here needs its own timeout. math-verify's signal-based timeouts are switched off
(``parsing_timeout=None`` / ``timeout_seconds=None``): they only work on a main thread, and
the helper's hard kill covers every case they would, including C-level big-integer work that
a signal cannot interrupt.
"""
from __future__ import annotations

import functools
import logging
import re
from fractions import Fraction
from typing import Any, Optional

from verifiers.math.answer import Answer, Scalar
from verifiers.math.compare import answers_equal, close_enough

logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout disabled" warning is expected here


@functools.lru_cache(maxsize=4096)
def mv_parse(latex: str) -> Any:
    """The first sympy object math-verify reads from ``$latex$`` (None when it reads nothing)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from sympy import Basic, MatrixBase

    if not latex.strip():
        return None
    for text, configs in ((f"${latex}$", [LatexExtractionConfig()]), (latex, [ExprExtractionConfig()])):
        got = parse(text, extraction_config=configs, fallback_mode="no_fallback",
                    extraction_mode="first_match", parsing_timeout=None)
        for item in got:
            if isinstance(item, (Basic, MatrixBase)):
                return item
    return None


_RELATION = re.compile(r"<|>|\\(?:le|ge|ne|lt|gt|neq|leq|geq)(?![A-Za-z])")


def _comparable(gold: Scalar, pred: Scalar, g: Any, p: Any) -> bool:
    """Both sides are relations or neither is, and neither parsed to a bare truth value.

    math-verify reads some malformed chains such as "1 < 1 < x" as the number 1, which
    would otherwise equal a gold of 1.
    """
    import sympy

    if bool(_RELATION.search(gold.latex)) != bool(_RELATION.search(pred.latex)):
        return False
    return not isinstance(g, sympy.logic.boolalg.BooleanAtom) and not isinstance(p, sympy.logic.boolalg.BooleanAtom)


def _float_rounding(gold: Scalar) -> int:
    # math-verify rounds both sides to this many decimals: a decimal gold states its own.
    if gold.number is not None and gold.number.kind == "decimal":
        return max(gold.number.decimals, 1)
    return 6


def _percent_variants(expr: Any, own_percent: bool, other_percent: bool) -> list[tuple[Any, int]]:
    """(value, scale) readings: a "%" side against a bare number also means itself divided by 100."""
    return [(expr, 1)] + ([(expr / 100, 100)] if own_percent and not other_percent else [])


def _degree_variants(gold: Scalar, pred: Scalar, g: Any, p: Any) -> tuple[list[Any], list[Any]]:
    import sympy

    gs, ps = [g], [p]
    if gold.degree != pred.degree:
        # 30 degrees against pi/6: read the degree side in radians when the other mentions pi.
        if gold.degree and "\\pi" in pred.latex:
            gs.append(g * sympy.pi / 180)
        if pred.degree and "\\pi" in gold.latex:
            ps.append(p * sympy.pi / 180)
    return gs, ps


def _readings(gold: Scalar, pred: Scalar) -> Optional[bool] | tuple[list[Any], list[Any]]:
    """Both stages start here: each side parsed, with its degree readings (gold's, pred's).

    Returns the stage's answer instead when there is nothing to compare: None (undecided) when a side
    does not parse, False when one side is a relation and the other not, or either is a bare truth value.
    """
    g, p = mv_parse(gold.latex), mv_parse(pred.latex)
    if g is None or p is None:
        return None
    import sympy

    # "y = -x/2 + 3/4" against the equation "2x + 4y - 3 = 0": read the named side as an equation.
    if isinstance(g, sympy.Equality) and not isinstance(p, sympy.Equality) and pred.equation:
        p = _as_equation(pred.equation, p)
    elif isinstance(p, sympy.Equality) and not isinstance(g, sympy.Equality) and gold.equation:
        g = _as_equation(gold.equation, g)
    if not _comparable(gold, pred, g, p):
        return False
    return _degree_variants(gold, pred, g, p)


_DECIMAL = re.compile(r"\d\.\d")


def _as_equation(latex: str, fallback: Any) -> Any:
    import sympy

    parsed = mv_parse(latex)
    return parsed if isinstance(parsed, sympy.Equality) else fallback


def math_verify_eq(gold: Scalar, pred: Scalar) -> Optional[bool]:
    from math_verify import verify

    if _DECIMAL.search(pred.latex) and not _DECIMAL.search(gold.latex):
        # math-verify rounds both sides (0.333333 = 1/3): a decimal for an exact gold is
        # judged by the sympy stage under the precision policy instead.
        return None
    readings = _readings(gold, pred)
    if not isinstance(readings, tuple):
        return readings
    gs, ps = readings
    gs = [v for x in gs for v, _ in _percent_variants(x, gold.percent, pred.percent)]
    ps = [v for x in ps for v, _ in _percent_variants(x, pred.percent, gold.percent)]
    import sympy

    for gv in gs:
        for pv in ps:
            if isinstance(gv, sympy.Equality) and isinstance(pv, sympy.Equality):
                # Two equations: the proportionality test is math-verify's verdict at a fraction of
                # its cost (its verify spends over a second on "x^2/4 + y^2/3 = 1" pairs).
                if _same_equation(gv.lhs - gv.rhs, pv.lhs - pv.rhs):
                    return True
                continue
            if verify(gv, pv, float_rounding=_float_rounding(gold), strict=True, timeout_seconds=None):
                return True
    return None  # not a proof of difference: the sympy stage applies the precision policy


def _to_fraction(value: Any) -> Fraction | None:
    import sympy

    try:
        f = sympy.Float(value, 40)
    except (TypeError, ValueError):
        return None
    if not f.is_finite:
        return None
    return Fraction(str(f))


def _numbers_equal(g: Any, p: Any, gold: Scalar, pred: Scalar, gold_scale: int, pred_scale: int) -> bool:
    import sympy

    gv, pv = sympy.N(g, 40), sympy.N(p, 40)
    g_re, g_im = gv.as_real_imag()
    p_re, p_im = pv.as_real_imag()
    parts = [(g_re, p_re), (g_im, p_im)]
    if all(_to_fraction(x) is not None for pair in parts for x in pair):
        gr, pr = _to_fraction(g_re), _to_fraction(p_re)
        gi, pi_ = _to_fraction(g_im), _to_fraction(p_im)
        assert gr is not None and pr is not None and gi is not None and pi_ is not None
        if gi != 0 or pi_ != 0:
            scale = max(abs(gr) + abs(gi), Fraction(1))
            return abs(gr - pr) + abs(gi - pi_) <= scale * Fraction(1, 10**9)
        gold_lit = gold.number if gold_scale == 1 else None
        gold_tol = gold.number.tol / gold_scale if gold.number is not None else None
        pred_lit = pred.number if pred_scale == 1 else None
        return close_enough(gr, gold_lit, pr, pred_lit, gold_tol=gold_tol, round_to=gold.round_to)
    return bool(sympy.simplify(g - p) == 0)


def sympy_eq(gold: Scalar, pred: Scalar) -> Optional[bool]:
    readings = _readings(gold, pred)
    if not isinstance(readings, tuple):
        return readings
    gs, ps = readings
    for gi, g0 in enumerate(gs):
        for pi_, p0 in enumerate(ps):
            for gv, gsc in _percent_variants(g0, gold.percent, pred.percent):
                for pv, psc in _percent_variants(p0, pred.percent, gold.percent):
                    if _symbolic_equal(gv, pv, gold, pred, gsc if gi == 0 else 0, psc if pi_ == 0 else 0):
                        return True
    return False


def _symbolic_equal(g: Any, p: Any, gold: Scalar, pred: Scalar, gold_scale: int, pred_scale: int) -> bool:
    import sympy

    if isinstance(g, sympy.Equality) and isinstance(p, sympy.Equality):
        return _same_equation(g.lhs - g.rhs, p.lhs - p.rhs)
    if isinstance(g, sympy.Equality) != isinstance(p, sympy.Equality):
        return False
    if isinstance(g, (sympy.Set, sympy.MatrixBase)) or isinstance(p, (sympy.Set, sympy.MatrixBase)):
        return bool(g == p or sympy.simplify(g) == sympy.simplify(p))
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return bool(g == p)
    if not g.free_symbols and not p.free_symbols:
        # gold_scale 0 means the value was rescaled (degrees): no stated precision applies.
        return _numbers_equal(g, p, gold, pred, gold_scale or 10**9, pred_scale or 10**9)
    if g.free_symbols != p.free_symbols:
        return False
    diff = sympy.simplify(g - p)
    if diff == 0:
        return True
    return bool(g.equals(p))


def _same_equation(dg: Any, dp: Any) -> bool:
    """"lhs - rhs" of two equations differ by a nonzero constant factor: the same solution set
    (2x + 4y - 3 = 0 and y = -x/2 + 3/4; x^2/4 + y^2/3 = 1 and x^2/16 + y^2/12 = 1/4)."""
    import sympy

    if dp == 0 or dg == 0:
        return bool(dg == dp)
    # Polynomials (lines, conics) are settled by cancelling the ratio, without simplify's cost.
    ratio = sympy.cancel(sympy.together(dg / dp))
    if not (ratio.is_number or (dg.is_polynomial() and dp.is_polynomial())):
        ratio = sympy.simplify(ratio)
    return bool(ratio.is_number and ratio != 0 and ratio.is_finite)


def compare(stage: str, gold: Answer, pred: Answer) -> Optional[bool]:
    """Entry point called through the helper: one stage over the whole answer structure."""
    if stage == "math_verify":
        return answers_equal(gold, pred, math_verify_eq)
    if stage == "sympy":
        return answers_equal(gold, pred, sympy_eq)
    raise ValueError(f"unknown symbolic stage {stage!r}")


def warm() -> bool:
    """Import and exercise the parsers once so the first real item is not charged for it."""
    from math_verify import verify

    verify(mv_parse("\\frac{1}{2}+x"), mv_parse("(1, 2]"), timeout_seconds=None)
    # The first equation comparison pays for sympy's lazy simplify machinery (over 1 s on a loaded CPU).
    g, p = mv_parse("2x+4y-3=0"), mv_parse("y=-\\frac{x}{2}+\\frac{3}{4}")
    _same_equation(g.lhs - g.rhs, p.lhs - p.rhs)
    return True


HELPER_FUNCTIONS = {"compare": compare, "warm": warm}
