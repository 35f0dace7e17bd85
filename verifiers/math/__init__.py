"""The ``math`` verifier: a cascade of extraction, string, math-verify and sympy stages.

Policy decisions (each has tests in tests/verifiers/test_math_*.py):

Extraction
    Text after the last ``</think>``; an unclosed ``<think>`` scores 0. Then, the first kind
    present wins: ``\\boxed{}`` (nested braces), "Answer:" lines, ``####``, "the answer is",
    bold ``**x**``, the last LaTeX maths span (``$x \\ge 5$``) when no number follows it, the
    final number. An unclosed ``\\boxed{`` after the last closed box (a truncated response)
    scores 0. A placeholder box (``\\boxed{}``, ``\\boxed{\\phantom{2}}``, ``\\boxed{?}``, quoted
    from the question) is not an answer.

Self-correction and hedging
    The LAST final answer counts: "at first \\boxed{17}; checking again, \\boxed{19}" answers 19,
    and a "Final Answer: ..." line after the last box replaces it. Only alternatives offered
    together as the final answer are a hedge (reward 0): ``\\boxed{17} or \\boxed{19}``,
    "Answer: 12, 13 or 14", "(B) or (C)". Boxes offered together are fine when the gold has
    that many parts ("\\boxed{3} and \\boxed{5}" for gold "3, 5"; "\\boxed{1}, \\boxed{2},
    \\boxed{3}" for "\\{1,2,3\\}"); for a gold of k parts the last k boxes are its parts.

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
    4.5e33 accepts 4.52e33). An exact gold (integer, fraction, radical, \\pi, e) needs an
    exact answer (1/2 = 0.5 = 2/4), or a decimal only to the precision the problem itself
    asks for: the prompt says "to the nearest hundredth" / "round to 2 decimal places" (or
    ``metadata["round_to"] = 2``), and the decimal has at least that many places and is
    within half a unit of the last asked place. Without such a request 0.67 is not 2/3,
    1.414 not \\sqrt2, 6.28 not 2\\pi, 1000.004 not 1000 (a reward for decimals would teach a
    policy to answer exact questions with them).

Degrees, units, constants
    "30^\\circ" = "30" = "30 degrees"; a degree answer also matches radians that mention \\pi
    (30° = \\pi/6). Units and ``\\text{}`` after a value are dropped without conversion
    ("5 cm" = "5", "10\\text{ m}^2" = "10"). \\pi, π and pi are the same; e is Euler's number.

Structures
    Tuples/intervals are ordered and keep their brackets ("[1,2]" is not "(1,2)", nor is
    "(1,3)" the set "{1,3}"); sets ``\\{\\}`` (also plain ``{-2021, 2021}``), bare lists "1, 2",
    "(11,7) or (7,11)" and unions are unordered, and a repeated member counts once; "\\pm 2021"
    is the list 2021, -2021. "x = 3" answers "3"; "(p,q)=(3,2)" answers "(3,2)"; named systems
    compare by name ("x=3, y=2" vs "x=1, y=2" is wrong); "a = 7" vs "b = 7" is wrong (the
    answer names a different unknown); a bare "7" for gold "a = 7" is right.

Relations, matrices, equations, separators
    An inequality in one unknown is its solution interval, written either way round and in
    any spelling: "x >= 5" = "x \\geq 5" = "5 \\le x" = "[5, \\infty)"; "-x > -1" = "x < 1";
    "1 \\le |z| \\le 3/2" = "[-3/2, -1] \\cup [1, 3/2]"; "x != 3" = "x \\neq 3". pmatrix, bmatrix
    and a bracketed ``array`` are the same matrix. Two equations are equal when one is a
    nonzero multiple of the other ("2x+4y-3=0" = "y = -x/2 + 3/4"). Thousands separators:
    "1,000", "1{,}000", "1\\,000", "11,\\! 111,\\! 100"; a comma is never a decimal point
    ("1,22" is a list: MATH writes several solutions that way).

Multiple choice
    A gold "B" or "(B)" accepts "(B)", "B", "B) 12", "\\text{(B)}", "Option B", and the
    option's value when the prompt lists the options ("(A) 10 (B) 12 ...") or the gold
    carries it ("(B) 12").

math-verify's own test verdicts
    tests/verifiers/test_math_verify_suite.py scores the cascade on math-verify 0.9.0's test
    rows; the rows where it deliberately differs are listed with reasons in
    tests/verifiers/data/math_verify_deliberate.json.

Timeouts
    The math-verify and sympy stages share ``timeout_s`` (1.5 s) in a helper process that is
    killed on overrun: ``\\boxed{9^{9^{9^9}}}`` returns reward 0 with ``error`` and
    ``details["reason"]`` saying which stage timed out.
"""
from verifiers.math.cascade import MathVerifier, gold_strings

__all__ = ["MathVerifier", "gold_strings"]
