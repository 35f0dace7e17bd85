"""The math cascade: one positive and one negative case (at least) per policy item."""
import pytest

from verifiers import VerifierResult, get_verifier
from verifiers.math import MathVerifier, gold_strings


@pytest.fixture(scope="module")
def math_v():
    verifier = get_verifier("math")
    verifier.warmup()
    yield verifier
    verifier.close()


def score(v, response, gold, prompt=None) -> VerifierResult:
    result = v(response, gold, prompt=prompt)
    assert 0.0 <= result.reward <= 1.0
    assert result.correct == (result.reward == 1.0)
    return result


CASES = {
    # (response, gold, expected reward)
    "units_text": [("\\boxed{5 \\text{ cm}}", "5", 1), ("\\boxed{12\\ \\mathrm{m/s}}", "12", 1),
                   ("Answer: 5 dollars", "5", 1), ("\\boxed{\\$5}", "5", 1), ("\\boxed{6 \\text{ cm}}", "5", 0)],
    "degrees": [("\\boxed{30^\\circ}", "30", 1), ("\\boxed{30^{\\circ}}", "30^\\circ", 1),
                ("\\boxed{45 degrees}", "45^\\circ", 1), ("\\boxed{30°}", "\\frac{\\pi}{6}", 1),
                ("\\boxed{60^\\circ}", "\\frac{\\pi}{6}", 0), ("\\boxed{31^\\circ}", "30", 0)],
    "percent": [("\\boxed{50\\%}", "50\\%", 1), ("\\boxed{50}", "50%", 1), ("\\boxed{0.5}", "50\\%", 1),
                ("\\boxed{\\frac{1}{2}}", "50\\%", 1), ("\\boxed{50\\%}", "0.5", 1), ("\\boxed{50\\%}", "50", 1),
                ("\\boxed{50}", "0.5", 0), ("\\boxed{0.5}", "50", 0), ("\\boxed{5\\%}", "50\\%", 0)],
    "constants": [("\\boxed{2\\pi}", "2\\pi", 1), ("\\boxed{2π}", "2\\pi", 1), ("\\boxed{\\pi \\cdot 2}", "2\\pi", 1),
                  # An exact gold needs an exact answer (issue 10 changed 6.28, 6.283 and 2.718 from 1 to 0;
                  # test_exact_gold_accepts_a_decimal_only_to_the_precision_asked covers the asked-for case).
                  ("\\boxed{6.28}", "2\\pi", 0), ("\\boxed{6.283}", "2\\pi", 0), ("\\boxed{6.3}", "2\\pi", 0),
                  ("\\boxed{e^2}", "e^{2}", 1), ("\\boxed{2.718}", "e", 0), ("\\boxed{3\\pi}", "2\\pi", 0)],
    "thousands_and_spaces": [("\\boxed{1,000}", "1000", 1), ("\\boxed{1{,}000}", "1000", 1),
                             ("\\boxed{1\\,000\\,000}", "1000000", 1), ("\\boxed{1 000 000}", "1000000", 1),
                             ("#### 12,345", "12345", 1), ("\\boxed{1,001}", "1000", 0)],
    "scientific": [("\\boxed{4.5\\times 10^{33}}", "4.5e33", 1), ("\\boxed{3 \\times 10^8}", "3e8", 1),
                   ("\\boxed{2.5 \\cdot 10^{-3}}", "0.0025", 1), ("\\boxed{1.2e3}", "1200", 1),
                   ("\\boxed{4.52 \\times 10^{33}}", "4.5e33", 1), ("\\boxed{4.7\\times 10^{33}}", "4.5e33", 0),
                   ("\\boxed{3 \\times 10^9}", "3e8", 0)],
    "fractions": [("\\boxed{\\frac{1}{2}}", "0.5", 1), ("\\boxed{\\dfrac{1}{2}}", "\\tfrac12", 1),
                  ("\\boxed{\\frac12}", "1/2", 1), ("\\boxed{1/2}", "\\frac{1}{2}", 1),
                  ("\\boxed{\\frac{-1}{2}}", "-0.5", 1), ("\\boxed{-\\frac{3}{4}}", "-3/4", 1),
                  ("\\boxed{\\frac{2}{4}}", "\\frac{1}{2}", 1), ("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}", 0)],
    "intervals": [("\\boxed{(1,2]}", "(1, 2]", 1), ("\\boxed{[1,2]}", "(1,2)", 0), ("\\boxed{(1,2]}", "(1,2)", 0),
                  ("\\boxed{(-\\infty, 3) \\cup (4, \\infty)}", "(4,\\infty)\\cup(-\\infty,3)", 1),
                  ("\\boxed{x \\in [1, 2]}", "[1,2]", 1), ("\\boxed{1 \\le x \\le 2}", "[1,2]", 1),
                  ("\\boxed{x > 3}", "(3, \\infty)", 1), ("\\boxed{x \\ge 3}", "(3, \\infty)", 0)],
    "tuples": [("\\boxed{(1, 2)}", "(1,2)", 1), ("\\boxed{1, 2}", "(1, 2)", 1), ("\\boxed{(2, 1)}", "(1,2)", 0),
               ("\\boxed{(1, 2, 3)}", "(1,2)", 0), ("\\boxed{(\\frac{1}{2}, 3)}", "(0.5, 3)", 1)],
    "unordered_sets": [("\\boxed{\\{3,1,2\\}}", "1, 2, 3", 1), ("\\boxed{2, 1}", "1,2", 1),
                       ("\\boxed{x = 2 \\text{ or } x = -2}", "-2, 2", 1), ("\\boxed{x = \\pm 2}", "2, -2", 1),
                       ("\\boxed{1 \\pm \\sqrt{2}}", "1+\\sqrt2, 1-\\sqrt2", 1), ("\\boxed{\\{1,2\\}}", "1, 3", 0)],
    "equations": [("\\boxed{x=3}", "3", 1), ("\\boxed{3}", "x=3", 1), ("\\boxed{x = 3}", "x=3", 1),
                  ("\\boxed{y = 2x+1}", "2x+1", 1), ("\\boxed{y^2 + x^2 = 1}", "x^2+y^2=1", 1),
                  ("\\boxed{x=4}", "3", 0), ("\\boxed{x^2 + y^2 = 2}", "x^2+y^2=1", 0)],
    "multiple_choice": [("Answer: (B)", "B", 1), ("\\boxed{B}", "(B)", 1), ("Answer: B) 12", "B", 1),
                        ("\\boxed{\\text{(B)}}", "B", 1), ("The answer is Option B.", "B", 1),
                        ("\\boxed{12}", "(B) 12", 1), ("\\boxed{C}", "B", 0), ("Answer: (C) 12", "B", 0)],
    "number_words": [("Answer: five", "5", 1), ("The answer is Twelve.", "12", 1), ("\\boxed{twenty}", "20", 1),
                     ("\\boxed{zero}", "0", 1), ("Answer: six", "5", 0)],
    "symbolic": [("\\boxed{x^2+2x+1}", "(x+1)^2", 1), ("\\boxed{\\sqrt{8}}", "2\\sqrt{2}", 1),
                 ("\\boxed{\\sqrt{2}/2}", "\\frac{1}{\\sqrt{2}}", 1), ("\\boxed{3+4i}", "3+4i", 1),
                 ("\\boxed{x^2+1}", "(x+1)^2", 0), ("\\boxed{\\sqrt{3}}", "2\\sqrt{2}", 0)],
    "plain_text": [("\\boxed{\\text{Yes}}", "yes", 1), ("\\boxed{−5}", "-5", 1), ("Answer: 12.", "12", 1),
                   ("\\boxed{No}", "yes", 0)],
}


@pytest.mark.parametrize(
    "response, gold, want",
    [pytest.param(r, g, w, id=f"{topic}-{i}") for topic, rows in CASES.items() for i, (r, g, w) in enumerate(rows)],
)
def test_equivalence_policy(math_v, response, gold, want):
    result = score(math_v, response, gold)
    assert result.reward == want, result.details
    assert result.error is None


@pytest.mark.parametrize(
    "response, gold, want",
    [
        ("\\boxed{x=3, y=2}", "x=1, y=2", 0),  # MiroMind's greedy "="-strip accepted this
        ("\\boxed{y=2, x=3}", "x=3, y=2", 1),
        ("\\boxed{3, 2}", "x=3, y=2", 1),
        ("\\boxed{0.0005}", "0.0004", 0),  # MiroMind's 2-decimal fallback accepted this
        ("\\boxed{0.125}", "0.123", 0),
        ("\\boxed{1234.567}", "1234.571", 0),
        ("\\boxed{0.00041}", "0.0004", 1),
        ("\\boxed{3.1416}", "3.14", 1),
        ("\\boxed{3.1}", "3.14", 0),
        ("\\boxed{a=7}", "b=7", 0),  # a different unknown
        ("\\boxed{7}", "a=7", 1),
        ("\\boxed{1000.004}", "1000", 0),
        ("\\boxed{27.0}", "27", 1),
        ("\\boxed{27.4}", "27", 0),
        ("\\boxed{0.333}", "\\frac{1}{3}", 0),  # was 1: an exact gold needs an exact answer (issue 10)
        ("\\boxed{0.33}", "\\frac{1}{3}", 0),
    ],
)
def test_miromind_pitfalls_and_precision(math_v, response, gold, want):
    assert score(math_v, response, gold).reward == want


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{12} or \\boxed{13}", "12"),
        ("Answer: 12, 13 or 14", "12"),
        ("Answer: 12 or 13", "13"),
        ("\\boxed{12, 13}", "12"),
        ("\\boxed{x = \\pm 2}", "2"),
        ("I think it is 12 or 13", "12"),
        ("Answer: (B) or (C)", "B"),
        ("\\boxed{B} \\boxed{C}", "C"),
    ],
)
def test_hedging_scores_zero(math_v, response, gold):
    result = score(math_v, response, gold)
    assert result.reward == 0
    assert "hedge" in result.details["reason"]


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{3} and \\boxed{5}", "3, 5"),  # parts of a multi-part gold
        ("\\boxed{12} so again \\boxed{12}", "12"),  # the same answer twice
        ("\\boxed{\\frac{1}{2}} that is \\boxed{0.5}", "1/2"),  # equal values, different spelling
        ("\\boxed{(1, 2)}", "(1, 2)"),
    ],
)
def test_several_answers_that_are_not_hedges(math_v, response, gold):
    assert score(math_v, response, gold).reward == 1


def test_multiple_choice_value_is_mapped_through_prompt_options(math_v):
    prompt = "How many? (A) 10 (B) 12 (C) 14 (D) 16 (E) 18"
    assert score(math_v, "\\boxed{12}", "B", prompt=prompt).reward == 1
    assert score(math_v, "\\boxed{14}", "B", prompt=prompt).reward == 0
    assert score(math_v, "\\boxed{12}", "B").reward == 0  # no options to map through


def test_think_handling(math_v):
    assert score(math_v, "<think>\\boxed{1}</think>So \\boxed{2}", "2").reward == 1
    assert score(math_v, "<think>\\boxed{1}</think>So \\boxed{2}", "1").reward == 0
    unclosed = score(math_v, "<think>the answer is \\boxed{2}", "2")
    assert unclosed.reward == 0 and unclosed.details["stage"] == "extract"
    strict = MathVerifier(require_think=True, isolate=False)
    assert strict("\\boxed{2}", "2").reward == 0
    assert strict("<think>x</think>\\boxed{2}", "2").reward == 1


def test_details_name_extracted_answer_and_deciding_stage(math_v):
    string = score(math_v, "Thus \\boxed{\\dfrac{1}{2}}.", "0.5")
    assert string.details["extracted"] == "\\frac{1}{2}"
    assert string.details["extraction"] == "boxed"
    assert string.details["stage"] == "string"
    symbolic = score(math_v, "\\boxed{\\sqrt{8}}", "2\\sqrt{2}")
    assert symbolic.details["stage"] in ("math_verify", "sympy")
    approx = score(math_v, "\\boxed{6.283}", "2\\pi", prompt="Give the length to the nearest thousandth.")
    assert approx.reward == 1 and approx.details["stage"] == "sympy"
    none = score(math_v, "I do not know.", "3")
    assert none.details["stage"] == "extract" and none.details["reason"] == "no final answer found"


@pytest.mark.parametrize(
    "gold, expected",
    [(27.0, ["27"]), (2.5, ["2.5"]), (7, ["7"]), (["12", "twelve"], ["12", "twelve"]),
     ("\\boxed{\\frac{1}{2}}", ["\\frac{1}{2}"]), ("so 3+4=7\n#### 7", ["7"])],
)
def test_gold_forms(gold, expected):
    assert gold_strings(gold) == expected


def test_list_gold_means_alternatives(math_v):
    assert score(math_v, "Answer: twelve", ["12", "a dozen"]).reward == 1
    assert score(math_v, "Answer: 13", ["12", "a dozen"]).reward == 0


@pytest.mark.parametrize("gold", [None, "", True, float("nan"), [], {"a": 1}])
def test_bad_ground_truth_is_an_error_not_a_crash(math_v, gold):
    result = math_v("\\boxed{1}", gold)
    assert result.reward == 0 and result.error and "ground_truth" in result.error


def test_non_string_response_is_an_error(math_v):
    result = math_v(None, "1")
    assert result.reward == 0 and "response must be a string" in result.error


def test_verifier_pickles_without_its_helper(math_v):
    import pickle

    copy = pickle.loads(pickle.dumps(math_v))
    assert copy._helper is None
    assert copy("\\boxed{4}", "4").reward == 1
    copy.close()


def test_bad_option_is_rejected():
    with pytest.raises(ValueError, match="timeout_s"):
        MathVerifier(timeout_s=0)


@pytest.mark.parametrize(
    "response, gold, reason",
    [
        ("\\boxed{1 < 1 < 1 < x}", "1", None),  # math-verify alone reads this chain as 1
        ("\\boxed{" + "7" * 3000 + "}", "7", "answer too long (3000 characters)"),
        (" ".join(f"\\boxed{{{i}}}" for i in range(2000)), "1999", "hedge: 2000 different final answers"),
        ("Answer: " + " or ".join(str(i) for i in range(200)), "3", "hedge: 200 different final answers"),
    ],
    ids=["malformed-chain", "too-long", "2000-boxes", "200-alternatives"],
)
def test_adversarial_answers_score_zero_quickly(math_v, response, gold, reason):
    import time

    start = time.monotonic()
    result = score(math_v, response, gold)
    assert time.monotonic() - start < 2.0
    assert result.reward == 0
    if reason is not None:
        assert result.details["reason"] == reason


# Issue 10: answers plain math-verify accepted and the cascade missed (each row failed before the fix).
ISSUE10_EQUIVALENT = {
    "relations": [("\\boxed{x \\geq 5}", "x >= 5"), ("\\boxed{x >= 5}", "x \\geq 5"), ("\\boxed{5 \\leq x}", "x \\geq 5"),
                  ("\\boxed{5 \\geq x}", "x \\leq 5"), ("\\boxed{x != 3}", "x \\neq 3"), ("\\boxed{x \\neq 3}", "x != 3"),
                  ("We find that $x \\lt 3$.", "x < 3"), ("\\boxed{-x > -1}", "x < 1")],
    "matrices": [("\\boxed{\\begin{bmatrix}1 & 0 \\\\ 0 & 1\\end{bmatrix}}", "\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}"),
                 ("\\boxed{\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right]}",
                  "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}"),
                 ("The identity is $\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$.",
                  "\\begin{bmatrix}1 & 0 \\\\ 0 & 1\\end{bmatrix}")],
    "labelled_tuples_and_sets": [("\\boxed{(3,2)}", "(p,q)=(3,2)"), ("\\boxed{(p, q) = (3, 2)}", "(3,2)"),
                                 ("\\boxed{(7,11),\\ (11,7)}", "(11,7) or (7,11)"),
                                 ("\\boxed{(7,11)} or \\boxed{(11,7)}", "(11,7)or(7,11)"),
                                 ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "\\{1,2,3\\}"),
                                 ("\\boxed{1} and \\boxed{2} and \\boxed{3}", "{1,2,3}"),
                                 ("\\boxed{\\{-2021, 2021\\}}", "\\pm 2021"), ("\\boxed{{-2021, 2021}}", "\\pm 2021"),
                                 ("\\boxed{(5,2),(7,2)}", "p=5,q=2;p=7,q=2"),
                                 ("\\boxed{(3,17),(17,3),(3,17)}", "(3,17),(17,3)")],
    "thousands_separators": [("\\boxed{11,\\! 111,\\! 111,\\! 100}", "11111111100"), ("$\\boxed{32,\\! 349}$", "32349")],
    "line_equations": [("\\boxed{y=-\\frac{1}{2}x+\\frac{3}{4}}", "2x+4y-3=0"), ("\\boxed{-34x-45y+20z-100=0}", "34x+45y-20z+100=0"),
                       ("\\boxed{x^2/16 + y^2/12 = 1/4}", "x^2/4 + y^2/3 = 1"), ("\\boxed{y = 2x + 1}", "2x - y + 1 = 0")],
    "units_with_exponents": [("\\boxed{10\\text{ m}^2}", "10"), ("\\boxed{10 \\text{ cm}^{3}}", "10"),
                             ("\\boxed{10\\,\\mathrm{m}^2}", "10")],
}
ISSUE10_DIFFERENT = {
    "relations": [("\\boxed{x \\geq 6}", "x >= 5"), ("\\boxed{5 \\geq x}", "x \\geq 5"), ("\\boxed{x != 4}", "x \\neq 3")],
    "matrices": [("\\boxed{\\begin{bmatrix}1 & 0 \\\\ 0 & 2\\end{bmatrix}}", "\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}")],
    "labelled_tuples_and_sets": [("\\boxed{(2,3)}", "(p,q)=(3,2)"), ("\\boxed{(7,11)}", "(11,7) or (7,11)"),
                                 ("\\boxed{\\{-2021, 2020\\}}", "\\pm 2021"), ("\\boxed{(5,2),(2,7)}", "p=5,q=2;p=7,q=2")],
    "thousands_separators": [("\\boxed{11,\\! 111,\\! 111,\\! 101}", "11111111100")],
    "line_equations": [("\\boxed{y=-\\frac{1}{2}x+\\frac{1}{4}}", "2x+4y-3=0"), ("\\boxed{x^2/16 + y^2/12 = 1}", "x^2/4 + y^2/3 = 1")],
    "units_with_exponents": [("\\boxed{11\\text{ m}^2}", "10")],
}


@pytest.mark.parametrize(
    "response, gold",
    [pytest.param(r, g, id=f"{topic}-{i}") for topic, rows in ISSUE10_EQUIVALENT.items() for i, (r, g) in enumerate(rows)],
)
def test_issue10_forms_plain_math_verify_accepts(math_v, response, gold):
    result = score(math_v, response, gold)
    assert result.reward == 1, result.details
    assert result.error is None


@pytest.mark.parametrize(
    "response, gold",
    [pytest.param(r, g, id=f"{topic}-{i}") for topic, rows in ISSUE10_DIFFERENT.items() for i, (r, g) in enumerate(rows)],
)
def test_issue10_forms_still_reject_a_different_answer(math_v, response, gold):
    assert score(math_v, response, gold).reward == 0


@pytest.mark.parametrize(
    "response, gold, want",
    [
        ("At first I get \\boxed{17}; checking again, the count is \\boxed{19}.", "19", 1),
        ("At first I get \\boxed{17}; checking again, the count is \\boxed{19}.", "17", 0),
        ("So \\boxed{12}. Wait, I dropped a term: the total is \\boxed{13}.", "13", 1),
        ("The box $\\boxed{\\phantom{2}}$ in the question stands for 7, so \\boxed{7}.", "7", 1),
        ("So \\boxed{7}, which fills the blank $\\boxed{\\phantom{2}}$ of the question.", "7", 1),
        ("\\boxed{7} fills \\boxed{} and \\boxed{?} and \\boxed{\\underline{\\hspace{1cm}}}.", "7", 1),
        ("The interest is \\boxed{255}. In total $10,200 + $255 = $10,455.\nFinal Answer: The final answer is $10,455$.",
         "10455", 1),
    ],
)
def test_self_correction_scores_the_last_final_answer(math_v, response, gold, want):
    assert score(math_v, response, gold).reward == want


@pytest.mark.parametrize(
    "response, gold",
    [("\\boxed{17} or \\boxed{19}", "19"), ("It is \\boxed{17}, \\boxed{19}", "17"), ("$\\boxed{17}$ or $\\boxed{19}$", "19")],
)
def test_alternatives_offered_together_are_a_hedge(math_v, response, gold):
    result = score(math_v, response, gold)
    assert result.reward == 0 and "hedge" in result.details["reason"]


@pytest.mark.parametrize("response", ["The answer is \\boxed{12", "First \\boxed{12}, then \\boxed{12", "\\boxed{\\frac{1}{2}"])
def test_unclosed_box_is_not_an_answer(math_v, response):
    gold = "\\frac{1}{2}" if "frac" in response else "12"
    result = score(math_v, response, gold)
    assert result.reward == 0
    assert result.details["reason"].startswith("unclosed \\boxed{")


@pytest.mark.parametrize(
    "response, gold, prompt, want",
    [
        ("\\boxed{0.67}", "\\frac{2}{3}", None, 0),  # the issue's example: a rounded decimal for an exact gold
        ("\\boxed{0.667}", "\\frac{2}{3}", None, 0),
        ("\\boxed{1.414}", "\\sqrt{2}", None, 0),
        ("\\boxed{6.28}", "2\\pi", None, 0),
        ("\\boxed{0.67}", "\\frac{2}{3}", "Express your answer as a decimal to the nearest hundredth.", 1),
        ("\\boxed{0.667}", "\\frac{2}{3}", "Express your answer to the nearest hundredth.", 1),  # finer than asked
        ("\\boxed{0.7}", "\\frac{2}{3}", "Express your answer to the nearest hundredth.", 0),  # coarser than asked
        ("\\boxed{0.66}", "\\frac{2}{3}", "Express your answer to the nearest hundredth.", 0),  # wrongly rounded
        ("\\boxed{1.414}", "\\sqrt{2}", "Round your answer to 3 decimal places.", 1),
        ("\\boxed{1.41}", "\\sqrt{2}", "Round your answer to three decimal places.", 0),
        ("\\boxed{6.28}", "2\\pi", "What is the circumference, to the nearest hundredth?", 1),
        ("\\boxed{3}", "2\\sqrt{2}", "Round to the nearest whole number.", 1),
        ("\\boxed{\\frac{4}{6}}", "\\frac{2}{3}", None, 1),  # exact forms stay equal
        ("\\boxed{0.5}", "\\frac{1}{2}", None, 1),  # an exact decimal is exact
    ],
)
def test_exact_gold_accepts_a_decimal_only_to_the_precision_asked(math_v, response, gold, prompt, want):
    assert score(math_v, response, gold, prompt=prompt).reward == want


def test_precision_can_come_from_metadata(math_v):
    assert math_v("\\boxed{0.67}", "\\frac{2}{3}", metadata={"round_to": 2}).reward == 1
    assert math_v("\\boxed{0.67}", "\\frac{2}{3}", metadata={"round_to": 3}).reward == 0
    bad = math_v("\\boxed{0.67}", "\\frac{2}{3}", metadata={"round_to": "two"})
    assert bad.reward == 0 and "round_to" in bad.error


@pytest.mark.parametrize(
    "response, gold, want",
    [
        ("\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)} for part (b)", "(3, 3), (1, 1)", 1),  # last k boxes
        ("\\boxed{(3, 3)} for part (a) and \\boxed{(1, 2)} for part (b)", "(3, 3), (1, 1)", 0),
        ("$z \\in \\left[-\\frac{3}{2}, -1\\right] \\cup \\left[1, \\frac{3}{2}\\right]$", "1\\leq|z|\\leq \\frac{3}{2}", 1),
        ("\\boxed{(-2, 2)}", "|x| < 2", 1),
        ("\\boxed{[-2, 2]}", "|x| < 2", 0),
        ("\\boxed{\\{1,3\\}}", "(1,3)", 0),  # a pair or an open interval is not a set
        ("\\boxed{1.22}", "1,22", 0),  # a comma is never a decimal point
        ("\\boxed{0 < y < 1}", "0<f(x)<1", 1),
        ("\\boxed{(0,1)}", "0<f(x)<1", 1),
    ],
)
def test_documented_structure_rules(math_v, response, gold, want):
    assert score(math_v, response, gold).reward == want


def test_worked_solution_as_gold_uses_its_final_answer(math_v):
    gold = ("Let the stock's value at the start of Monday be 100. After losing 10% on Monday it is 90, and after "
            "losing a further 20% of that on Tuesday it is 72, so over the two days the loss "
            "is 100% - 72% = 28%. Final Answer: The final answer is $28 \\%$. I hope it is correct.")
    assert gold_strings(gold) == ["$28 \\%$"]
    assert score(math_v, "a total loss of $\\boxed{28\\%}$.", gold).reward == 1


@pytest.mark.parametrize(
    "response, gold, want",
    [
        ("The total is $5 + 3 = 8$.", "8", 1), ("The total is $5 + 3 = 8$.", "5", 0),
        ("Thus the area is $\\frac{1}{2} \\cdot 4 \\cdot 3 = 6$.", "6", 1), ("So $x = 12$.", "13", 0),
        ("She pays $\\$12$ in total.", "12", 1),
    ],
)
def test_closing_maths_span_scores_its_value(math_v, response, gold, want):
    """The last-maths-span rule on GSM8K-style closings: the value after the last "=" counts."""
    assert score(math_v, response, gold).reward == want
