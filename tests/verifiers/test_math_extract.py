"""Answer extraction: think stripping, each answer marker, priority, and hedge collection."""
import pytest

from verifiers.math.extract import boxed_contents, extract_answers, strip_think


def test_text_after_last_think_close_is_kept():
    text, why = strip_think("<think>try \\boxed{1}</think> hmm </think> final \\boxed{2}")
    assert why is None
    assert text == " final \\boxed{2}"


def test_unclosed_think_has_no_answer_even_with_a_box_inside():
    found = extract_answers("<think>I guess \\boxed{42} but let me check")
    assert not found.found
    assert "unclosed <think>" in found.reason


def test_box_inside_closed_think_is_ignored():
    found = extract_answers("<think>maybe \\boxed{41}</think>The answer is 42.")
    assert found.answers == ["42"]
    assert found.method == "answer_is"


def test_require_think_rejects_plain_responses():
    assert not extract_answers("\\boxed{3}", require_think=True).found
    assert extract_answers("<think>a</think>\\boxed{3}", require_think=True).answers == ["3"]


@pytest.mark.parametrize(
    "text, contents",
    [
        ("\\boxed{\\frac{1}{2}}", ["\\frac{1}{2}"]),
        ("\\boxed{\\{1, \\{2\\}\\}}", ["\\{1, \\{2\\}\\}"]),
        ("a \\boxed{x^{2^{3}}} b \\fbox{7}", ["x^{2^{3}}", "7"]),
        ("\\boxed 5 apples", ["5"]),
        ("truncated \\boxed{12", []),
        ("\\boxed{\\boxed{3}}", ["\\boxed{3}"]),
    ],
)
def test_boxed_contents_respects_nesting(text, contents):
    assert boxed_contents(text) == contents


@pytest.mark.parametrize(
    "response, method, answers",
    [
        ("work... \\boxed{7}. Answer: 8", "boxed", ["7"]),
        ("work\nAnswer: 8\n", "answer_line", ["8"]),
        ("work\n**Final Answer:** 8", "answer_line", ["8"]),
        ("work\nFinal answer:\n$\\frac{3}{4}$\n", "answer_line", ["$\\frac{3}{4}$"]),
        ("Answer: The total is 42 dollars.", "answer_line", ["42 dollars."]),
        ("3 + 4 = 7 apples\n#### 7", "hash", ["7"]),
        ("So the answer is 3.5. Done.", "answer_is", ["3.5"]),
        ("Therefore the final answer is $\\frac{1}{2}$.\n", "answer_is", ["$\\frac{1}{2}$"]),
        ("Step 1: stuff\nResult: **42**", "bold", ["42"]),
        ("**Step 1** we add 3 and 4 to get 7", "last_number", ["7"]),
        ("we have 1,250 people and -3.5e2 degrees", "last_number", ["-3.5e2"]),
        ("cost is 3/4 of 12 which gives 9", "last_number", ["9"]),
        ("no digits here", "none", []),
    ],
)
def test_marker_priority_and_content(response, method, answers):
    found = extract_answers(response)
    assert found.method == method
    assert found.answers == answers


def test_every_box_is_returned_for_hedge_detection():
    assert extract_answers("\\boxed{12} or \\boxed{13}").answers == ["12", "13"]


def test_trailing_or_list_of_numbers_is_returned_whole():
    assert extract_answers("It is either 12, 13 or 14").answers == ["12", "13", "14"]
    assert extract_answers("I got 3 cats and 4 dogs, 7 in all").answers == ["7"]


def test_choice_letter_fallback_only_when_gold_is_a_choice():
    text = "Comparing the options, the best is (C) since 12 > 10"
    assert extract_answers(text, choice=True).answers == ["(C)"]
    assert extract_answers(text).answers == ["10"]


def test_empty_answer_after_think():
    found = extract_answers("<think>all the work</think>   ")
    assert not found.found and found.reason == "empty answer"


@pytest.mark.parametrize(
    "response, method, answers",
    [
        ("Therefore $x \\geq 5$ is the solution.", "latex", ["x \\geq 5"]),
        ("We get \\(\\begin{pmatrix}1\\\\2\\end{pmatrix}\\) here", "latex", ["\\begin{pmatrix}1\\\\2\\end{pmatrix}"]),
        ("It costs $5 and the rest costs $7", "last_number", ["7"]),  # currency signs, not maths
        ("With $x = 2$ we get 7 apples", "last_number", ["7"]),  # a number after the last span
        ("at first \\boxed{17}; checking again, \\boxed{19}", "boxed", ["19"]),
        ("\\boxed{17} or \\boxed{19}", "boxed", ["17", "19"]),
        ("fill \\boxed{\\phantom{2}} so \\boxed{5}", "boxed", ["5"]),
        ("\\boxed{5}, the blank \\boxed{\\phantom{2}}", "boxed", ["5"]),
        ("\\boxed{255} then\nFinal Answer: The final answer is $10,455$. I hope it is correct.", "answer_line", ["$10,455$"]),
        ("So \\boxed{255}. Checking, the final answer is correct.", "boxed", ["255"]),
    ],
)
def test_last_final_answer_and_maths_spans(response, method, answers):
    found = extract_answers(response)
    assert (found.method, found.answers) == (method, answers)


def test_unclosed_box_after_the_last_closed_one_means_no_answer():
    found = extract_answers("so \\boxed{12}, and finally \\boxed{13")
    assert not found.found and found.reason.startswith("unclosed \\boxed{")
    assert extract_answers("\\boxed{12 and more text").reason.startswith("unclosed")
