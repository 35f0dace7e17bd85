"""Walk two parsed answers and compare them with a per-stage scalar comparer.

Each comparison is three-valued: True (equivalent), False (certainly not), None (this
stage cannot tell; a later stage may). The structural rules are the same in every stage:

* tuples and intervals are ordered and their brackets must agree ("[1,2]" is not "(1,2)");
* sets ``\\{..\\}``, bare lists ("1, 2") and unions are unordered;
* a bare list answers a bracketed gold too ("1, 2" for "(1, 2)", compared in order);
* named values: "x = 3" answers "3"; when both sides name it, the names must agree
  ("a = 7" vs "b = 7" is wrong); systems are matched by name ("y=2, x=3" = "x=3, y=2").

The numeric rules (:func:`numbers_match`) are the tolerance policy; see docs in
``verifiers/math/__init__.py``.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Optional

from verifiers.math.answer import Answer, Choice, Compound, Scalar
from verifiers.math.normalize import NumLit

ScalarEq = Callable[[Scalar, Scalar], Optional[bool]]



def _and(results: list[Optional[bool]]) -> Optional[bool]:
    if any(r is False for r in results):
        return False
    if all(r is True for r in results):
        return True
    return None


def answers_equal(gold: Answer, pred: Answer, scalar_eq: ScalarEq) -> Optional[bool]:
    if isinstance(gold, Choice) or isinstance(pred, Choice):
        if isinstance(gold, Choice) and isinstance(pred, Choice):
            return gold.letter == pred.letter
        if isinstance(gold, Choice) and gold.value is not None:
            return answers_equal(gold.value, pred, scalar_eq)
        return False
    if isinstance(gold, Scalar) and isinstance(pred, Scalar):
        if gold.name and pred.name and gold.name != pred.name:
            return False
        return scalar_eq(gold, pred)
    if isinstance(gold, Scalar) or isinstance(pred, Scalar):
        # A one-element set/tuple against a scalar: compare the element.
        other = pred if isinstance(gold, Scalar) else gold
        assert isinstance(other, Compound)
        if len(other.items) == 1 and other.kind in ("set", "list", "union"):
            return answers_equal(gold, other.items[0], scalar_eq) if other is pred else answers_equal(other.items[0], pred, scalar_eq)
        return False
    return _compounds_equal(gold, pred, scalar_eq)


def _names(c: Compound) -> list[str | None]:
    return [i.name if isinstance(i, Scalar) else None for i in c.items]


def _distinct(c: Compound) -> Compound:
    """A set or list written with a repeated member ("(3,17), (17,3), (3,17)") is that set once."""
    if c.kind == "tuple":
        return c
    seen: dict[str, Answer] = {}
    for item in c.items:
        seen.setdefault(item.key, item)
    return c if len(seen) == len(c.items) else Compound(c.kind, tuple(seen.values()), c.open, c.close, c.disjunction)


def _compounds_equal(gold: Compound, pred: Compound, scalar_eq: ScalarEq) -> Optional[bool]:
    gold, pred = _distinct(gold), _distinct(pred)
    if len(gold.items) != len(pred.items):
        return False
    gnames, pnames = _names(gold), _names(pred)
    if all(gnames) and all(pnames) and len(set(gnames)) == len(gnames) and len(set(pnames)) == len(pnames):
        # A system of named values: pair by name, whatever the order.
        if set(gnames) != set(pnames):
            return False
        by_name = {n: i for n, i in zip(pnames, pred.items)}
        return _and([answers_equal(g, by_name[n], scalar_eq) for n, g in zip(gnames, gold.items)])

    ordered = gold.kind == "tuple"
    if ordered:
        if pred.kind == "tuple" and (pred.open, pred.close) != (gold.open, gold.close):
            return False
        if pred.kind not in ("tuple", "list"):
            return False
        return _and([answers_equal(g, p, scalar_eq) for g, p in zip(gold.items, pred.items)])
    if gold.kind == "union" and pred.kind != "union":
        return False
    if gold.kind in ("set", "list") and pred.kind == "union":
        return False
    return _unordered_equal(list(gold.items), list(pred.items), scalar_eq)


def _unordered_equal(gold: list[Answer], pred: list[Answer], scalar_eq: ScalarEq) -> Optional[bool]:
    """A perfect matching over True pairs -> True; impossible even with undecided pairs -> False."""
    n = len(gold)
    table = [[answers_equal(g, p, scalar_eq) for p in pred] for g in gold]

    def perfect(allowed: Callable[[Optional[bool]], bool]) -> bool:
        match_of_pred: dict[int, int] = {}

        def augment(g: int, seen: set[int]) -> bool:
            for p in range(n):
                if p not in seen and allowed(table[g][p]):
                    seen.add(p)
                    if p not in match_of_pred or augment(match_of_pred[p], seen):
                        match_of_pred[p] = g
                        return True
            return False

        return all(augment(g, set()) for g in range(n))

    if perfect(lambda r: r is True):
        return True
    if not perfect(lambda r: r is not False):
        return False
    return None


def _variants(value: Fraction, tol: Fraction, lit_percent: bool, other_percent: bool) -> list[tuple[Fraction, Fraction]]:
    """Readings of a value given percent signs: 50% may mean 50 or 0.5 (see the policy table)."""
    out = [(value, tol)]
    if lit_percent and not other_percent:
        out.append((value / 100, tol / 100))
    return out


def close_enough(gold_value: Fraction, gold_lit: NumLit | None, pred_value: Fraction,
                 pred_lit: NumLit | None, gold_tol: Fraction | None = None,
                 round_to: int | None = None) -> bool:
    """The precision policy for two numbers.

    * a decimal or scientific gold states its precision: the prediction must lie within half a
      unit of its last digit (gold 0.0004 rejects 0.0005; gold 3.14 accepts 3.1416; 4.5e33
      accepts 4.52e33);
    * an exact gold (integer, fraction, radical, \\pi, e) needs an exact prediction (1/2 = 0.5),
      or a decimal rounded to the precision the problem asks for (``round_to`` decimals, from
      "to the nearest hundredth" in the prompt): 0.67 is 2/3 only when hundredths were asked
      for; 1.414 is never \\sqrt2 by itself, 6.28 never 2\\pi, 1000.004 never 1000.
    """
    diff = abs(gold_value - pred_value)
    tol = gold_tol if gold_tol is not None else (gold_lit.tol if gold_lit is not None else Fraction(0))
    if tol > 0:
        return diff <= tol * (1 + Fraction(1, 10**9))
    scale = max(abs(gold_value), Fraction(1))
    if diff <= scale * Fraction(1, 10**12):
        return True
    if round_to is not None and pred_lit is not None and pred_lit.kind in ("int", "decimal") \
            and pred_lit.decimals >= round_to:
        return diff <= Fraction(1, 2 * 10**round_to) * (1 + Fraction(1, 10**9))
    return False


def numbers_match(gold: Scalar, pred: Scalar) -> bool:
    """Both sides are plain literals: compare exactly under the precision and percent policy."""
    assert gold.number is not None and pred.number is not None
    g, p = gold.number, pred.number
    for gv, gt in _variants(g.value, g.tol, gold.percent, pred.percent):
        for pv, _ in _variants(p.value, p.tol, pred.percent, gold.percent):
            pred_lit = p if pv == p.value else None
            if close_enough(gv, g, pv, pred_lit, gold_tol=gt, round_to=gold.round_to):
                return True
    return False


def string_stage_eq(gold: Scalar, pred: Scalar) -> Optional[bool]:
    """Stage "string": canonical strings, then exact literal arithmetic. Decides False only
    when both sides are plain numbers (nothing symbolic left for later stages to find)."""
    if gold.key == pred.key and gold.key:
        return True
    if gold.number is not None and pred.number is not None:
        return numbers_match(gold, pred)
    return None
