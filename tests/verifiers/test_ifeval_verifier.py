"""The ifeval verifier as a whole: ground truth, kwargs validation, think, loose mode, reward."""
import json

import pytest

from verifiers import get_verifier
from verifiers.ifeval import IFEvalVerifier, parse_ground_truth
from verifiers.ifeval.text import split_sentences, strip_think

STRICT = IFEvalVerifier()
LOOSE = IFEvalVerifier(loose=True)


def gt(ids, kwargs=None):
    return {"instruction_id_list": ids, "kwargs": kwargs if kwargs is not None else [{} for _ in ids]}


def flags(result):
    return [entry["followed"] for entry in result.details["instructions"]]


# ---------------------------------------------------------------------------- registry


def test_registered_under_ifeval_and_options_reach_the_class():
    verifier = get_verifier("ifeval", loose=True)
    assert isinstance(verifier, IFEvalVerifier)
    assert verifier.loose is True


# ---------------------------------------------------------------------------- scoring


def test_reward_is_the_fraction_followed_and_correct_needs_all():
    truth = gt(
        ["punctuation:no_comma", "detectable_format:title", "keywords:existence", "startend:quotation"],
        [{}, {}, {"keywords": ["river"]}, {}],
    )
    result = STRICT("<<The River>>\nA river runs through it.", truth)
    assert result.error is None
    assert flags(result) == [True, True, True, False]
    assert result.reward == pytest.approx(0.75)
    assert result.correct is False
    assert [e["id"] for e in result.details["instructions"]] == truth["instruction_id_list"]
    assert result.details["mode"] == "strict"


def test_all_followed_is_correct():
    result = STRICT('"No commas here"', gt(["punctuation:no_comma", "startend:quotation"]))
    assert (result.reward, result.correct) == (1.0, True)


def test_ground_truth_may_be_json_text_with_null_kwargs_as_in_ifeval_rows():
    # IFEval/IFBench rows carry every argument name, unused ones null.
    unused = {"num_words": None, "relation": None, "keywords": None, "language": None}
    truth = json.dumps(gt(["punctuation:no_comma", "keywords:existence"], [unused, {**unused, "keywords": ["sun"]}]))
    result = STRICT("The sun is out.", truth)
    assert result.error is None
    assert flags(result) == [True, True]


def test_integral_floats_from_parquet_are_accepted():
    truth = gt(["length_constraints:number_words"], [{"num_words": 3.0, "relation": "less than"}])
    assert STRICT("one two", truth).correct


def test_empty_response_follows_nothing_not_even_no_comma():
    result = STRICT("   \n", gt(["punctuation:no_comma"]))
    assert result.error is None
    assert (result.reward, result.correct) == (0.0, False)


def test_repeat_prompt_falls_back_to_the_prompt_argument():
    truth = gt(["combination:repeat_prompt"])
    result = STRICT("Name a fruit. Apple.", truth, prompt="Name a fruit.")
    assert result.correct
    assert not STRICT("Apple.", truth, prompt="Name a fruit.").correct


def test_repeat_prompt_kwargs_win_over_the_prompt_argument():
    truth = gt(["combination:repeat_prompt"], [{"prompt_to_repeat": "Name a fruit."}])
    assert STRICT("Name a fruit. Apple.", truth, prompt="<chat template> Name a fruit.").correct


# ---------------------------------------------------------------------------- think


def test_only_text_after_the_last_think_close_is_scored():
    truth = gt(["punctuation:no_comma"])
    result = STRICT("<think>Well, hmm, commas.</think>first, draft</think>No commas here.", truth)
    assert result.correct
    assert result.details["think"] == "closed"


def test_commas_after_think_still_count():
    result = STRICT("<think>no commas</think>Yes, a comma.", gt(["punctuation:no_comma"]))
    assert not result.correct


def test_unclosed_think_follows_nothing():
    truth = gt(["punctuation:no_comma", "detectable_format:title"])
    result = STRICT("<think>I will write <<Title>> without commas", truth)
    assert result.error is None
    assert flags(result) == [False, False]
    assert result.reward == 0.0
    assert result.details["think"] == "unclosed"


def test_strip_think_states():
    assert strip_think("plain") == ("plain", "none")
    assert strip_think("  <think>unfinished") == (None, "unclosed")
    assert strip_think("Answer first <think>then thought") == (None, "unclosed")
    assert strip_think("<think>a</think>b") == ("b", "closed")


def test_leading_whitespace_after_think_is_not_part_of_the_answer():
    result = STRICT("<think>plan</think>\n\nNo-whitespace-here", gt(["format:no_whitespace"]))
    assert result.correct


# ---------------------------------------------------------------------------- loose mode


@pytest.mark.parametrize(
    "instruction_id,kwargs,response",
    [
        # An opening line before the quoted answer: dropped by removing the first line.
        ("startend:quotation", {}, 'Here you go:\n"The answer."'),
        # A closing line after the end phrase: dropped by removing the last line.
        ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Text. Any other questions?\nThanks!"),
        # Markdown bold around the first word: removed by stripping asterisks.
        (
            "length_constraints:nth_paragraph_first_word",
            {"num_paragraphs": 1, "nth_paragraph": 1, "first_word": "hello"},
            "**Hello** world.",
        ),
    ],
)
def test_loose_accepts_what_strict_rejects(instruction_id, kwargs, response):
    truth = gt([instruction_id], [kwargs])
    assert not STRICT(response, truth).correct
    result = LOOSE(response, truth)
    assert result.correct
    assert result.details["mode"] == "loose"


def test_loose_still_rejects_a_real_violation():
    assert not LOOSE("One, two, three.", gt(["punctuation:no_comma"])).correct


# ---------------------------------------------------------------------------- bad ground truth


@pytest.mark.parametrize(
    "truth,fragments",
    [
        (gt(["punctuation:no_comma", "made:up"]), ["instruction 1", "'made:up'", "instruction_id_list"]),
        (
            gt(["length_constraints:number_words"], [{"num_words": 5, "relation": "at most"}]),
            ["instruction 0", "length_constraints:number_words", "'relation'", "at most"],
        ),
        (gt(["keywords:frequency"], [{"keyword": "cat", "relation": "at least"}]), ["instruction 0", "'frequency'", "missing"]),
        (gt(["punctuation:no_comma"], [{"num_words": 3}]), ["instruction 0", "'num_words'", "unexpected"]),
        (gt(["length_constraints:number_words"], [{"num_words": 2.5, "relation": "at least"}]), ["'num_words'", "integer"]),
        (gt(["length_constraints:number_words"], [{"num_words": True, "relation": "at least"}]), ["'num_words'", "integer"]),
        (gt(["length_constraints:number_words"], [{"num_words": -1, "relation": "at least"}]), ["'num_words'", ">= 0"]),
        (gt(["length_constraints:number_words"], [{"num_words": "5", "relation": "at least"}]), ["'num_words'", "integer"]),
        (gt(["keywords:existence"], [{"keywords": []}]), ["'keywords'", "non-empty list"]),
        (gt(["keywords:existence"], [{"keywords": ["ok", ""]}]), ["'keywords'"]),
        (gt(["keywords:letter_frequency"], [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}]), ["'letter'", "single character"]),
        (gt(["language:response_language"], [{"language": "xx"}]), ["'language'", "ISO 639-1"]),
        (gt(["startend:end_checker"], [{"end_phrase": "   "}]), ["'end_phrase'", "empty"]),
        (
            gt(["length_constraints:nth_paragraph_first_word"], [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"}]),
            ["'nth_paragraph'", "exceeds"],
        ),
        (gt(["count:word_count_range"], [{"min_words": 9, "max_words": 3}]), ["'max_words'"]),
        (gt(["repeat:repeat_span"], [{"prompt_to_repeat": "a b", "n_start": 5, "n_end": 6}]), ["'n_start'"]),
        (gt(["combination:repeat_prompt"]), ["'prompt_to_repeat'", "missing"]),
        (gt(["punctuation:no_comma"], ["not a dict"]), ["instruction 0", "kwargs must be an object"]),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, ["'kwargs'", "one entry per instruction"]),
        ({"instruction_id_list": [], "kwargs": []}, ["'instruction_id_list'", "non-empty"]),
        ({"kwargs": [{}]}, ["'instruction_id_list'"]),
        ("{not json", ["not valid JSON"]),
        (["punctuation:no_comma"], ["must be an object"]),
    ],
)
def test_bad_ground_truth_is_a_failure_naming_index_and_field(truth, fragments):
    result = STRICT("Some response.", truth)
    assert result.error is not None
    assert (result.reward, result.correct) == (0.0, False)
    for fragment in fragments:
        assert fragment in result.error


def test_unknown_kwargs_can_be_ignored_on_request():
    truth = gt(["punctuation:no_comma"], [{"num_words": 3}])
    result = IFEvalVerifier(ignore_unknown_kwargs=True)("No commas.", truth)
    assert result.error is None and result.correct


def test_missing_kwargs_list_means_no_arguments():
    assert STRICT("No commas.", {"instruction_id_list": ["punctuation:no_comma"]}).correct


def test_non_string_response_is_a_failure():
    assert STRICT(None, gt(["punctuation:no_comma"])).error  # type: ignore[arg-type]


def test_parse_ground_truth_returns_validated_kwargs():
    [(spec, kwargs)] = parse_ground_truth(
        gt(["keywords:letter_frequency"], [{"letter": " Z ", "let_frequency": 2.0, "let_relation": "At least"}])
    )
    assert spec.id == "keywords:letter_frequency"
    assert kwargs == {"letter": "z", "let_frequency": 2, "let_relation": "at least"}


# ---------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Dr. Smith went home. He was tired!", ["Dr. Smith went home.", "He was tired!"]),
        ("J. R. R. Tolkien lived in the U.K. for years.", ["J. R. R. Tolkien lived in the U.K. for years."]),
        ("Pi is 3.14 or so. Right?", ["Pi is 3.14 or so.", "Right?"]),
        ('He said "hi." Then he left.', ['He said "hi."', "Then he left."]),
        ("*Bold claim.* Next one.", ["*Bold claim.*", "Next one."]),
        ("Wait... what?! Fine", ["Wait...", "what?!", "Fine"]),
        ("Steps:\n1. Mix it.\n2. bake it.", ["Steps:\n1.", "Mix it.", "2. bake it."]),
        ("No terminal mark\nacross lines", ["No terminal mark\nacross lines"]),
        ("***", []),
    ],
)
def test_sentence_splitter(text, expected):
    assert split_sentences(text) == expected
