"""The ``math`` verifier: a cascade of extraction, string, math-verify and sympy stages.

Policy decisions (each has tests in tests/verifiers/test_math_*.py):

Extraction
    Text after the last ``</think>``; an unclosed ``<think>`` scores 0. Then, the first kind
    present wins: ``\\boxed{}`` (nested braces), "Answer:" lines, ``####``, "the answer is",
    bold ``**x**``, the final number.

Hedging (reward 0)
    Several different final answers: ``\\boxed{12} or \\boxed{13}``, "Answer: 12, 13 or 14",
    "(B) or (C)". Several answers are fine when the gold itself is a tuple/set/list of the
    same size ("\\boxed{3} and \\boxed{5}" for gold "3, 5").

Percentages
    ======  =====================  ===========
    gold    response               match
    ======  =====================  ===========
    50%     50%, 50, 0.5, 1/2      yes
    0.5     50%, 0.5, 1/2          yes (50: no)
    50      50%, 50                yes (0.5: no)
    ======  =====================  ===========
    A "%" means "this number, or it divided by 100"; a bare number means itself.

Precision
    A decimal or scientific gold states its precision: the response must be within half a
    unit of its last digit (gold 0.0004 rejects 0.0005; gold 3.14 accepts 3.1416; gold
    4.5e33 accepts 4.52e33). An exact gold (integer, fraction, \\pi, \\sqrt2) needs an
    exact answer, or a decimal of at least 3 significant digits that rounds correctly
    (1/3 ~ 0.333, 2\\pi ~ 6.28; 0.33 and 6.3 are too coarse; 1000 rejects 1000.004).

Degrees, units, constants
    "30^\\circ" = "30" = "30 degrees"; a degree answer also matches radians that mention \\pi
    (30° = \\pi/6). Units and ``\\text{}`` after a value are dropped without conversion
    ("5 cm" = "5"). \\pi, π and pi are the same; e is Euler's number.

Structures
    Tuples/intervals are ordered and keep their brackets ("[1,2]" is not "(1,2)"); sets
    ``\\{\\}``, bare lists "1, 2" and unions are unordered. "x = 3" answers "3"; named systems
    compare by name ("x=3, y=2" vs "x=1, y=2" is wrong); "a = 7" vs "b = 7" is wrong (the
    answer names a different unknown); a bare "7" for gold "a = 7" is right.

Multiple choice
    A gold "B" or "(B)" accepts "(B)", "B", "B) 12", "\\text{(B)}", "Option B", and the
    option's value when the prompt lists the options ("(A) 10 (B) 12 ...") or the gold
    carries it ("(B) 12").

Timeouts
    The math-verify and sympy stages share ``timeout_s`` (1.5 s) in a helper process that is
    killed on overrun: ``\\boxed{9^{9^{9^9}}}`` returns reward 0 with ``error`` and
    ``details["reason"]`` saying which stage timed out.
"""
from verifiers.math.cascade import MathVerifier, gold_strings

__all__ = ["MathVerifier", "gold_strings"]
