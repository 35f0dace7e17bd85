"""Each of IFEval's 25 instruction types: a response that follows it and one that does not.

Every case goes through the whole verifier (ground-truth parsing, kwargs validation,
check), one instruction at a time.
"""
import pytest

from verifiers.ifeval import INSTRUCTIONS, IFEvalVerifier

VERIFIER = IFEvalVerifier()

IFEVAL_IDS = [
    "keywords:existence", "keywords:frequency", "keywords:forbidden_words",
    "keywords:letter_frequency", "language:response_language",
    "length_constraints:number_sentences", "length_constraints:number_paragraphs",
    "length_constraints:number_words", "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders", "detectable_content:postscript",
    "detectable_format:number_bullet_lists", "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections", "detectable_format:multiple_sections",
    "detectable_format:json_format", "detectable_format:title", "combination:two_responses",
    "combination:repeat_prompt", "startend:end_checker", "change_case:capital_word_frequency",
    "change_case:english_capital", "change_case:english_lowercase", "punctuation:no_comma",
    "startend:quotation",
]  # fmt: skip

AT_LEAST, LESS_THAN = "at least", "less than"

# (instruction id, kwargs, response, followed?)
CASES = [
    ("keywords:existence", {"keywords": ["apple", "Banana"]}, "I like apples and bananas.", True),
    ("keywords:existence", {"keywords": ["apple", "Banana"]}, "I like apples.", False),
    ("keywords:existence", {"keywords": ["c++"]}, "I write C++ daily.", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": AT_LEAST}, "cat Cat CAT", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": AT_LEAST}, "cat cat", False),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": LESS_THAN}, "one cat", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": LESS_THAN}, "cat, cat", False),
    ("keywords:forbidden_words", {"forbidden_words": ["red"]}, "Blue sky, a reddish glow.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["red", "green"]}, "It is Red.", False),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": AT_LEAST}, "Zig zag zoo", True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": AT_LEAST}, "Zig zag", False),
    ("keywords:letter_frequency", {"letter": "t", "let_frequency": 2, "let_relation": LESS_THAN}, "Quiz me on chess.", True),
    ("keywords:letter_frequency", {"letter": "t", "let_frequency": 2, "let_relation": LESS_THAN}, "That's it.", False),
    ("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": AT_LEAST}, "#sun #sea", True),
    ("language:response_language", {"language": "fr"}, "Bonjour, je suis très content de vous voir aujourd'hui.", True),
    ("language:response_language", {"language": "fr"}, "Hello, I am very happy to see you here today.", False),
    ("language:response_language", {"language": "zh"}, "这是一个关于天气的中文句子。", True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": AT_LEAST}, "One. Two! Three?", True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": AT_LEAST}, "One. Two.", False),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": LESS_THAN}, "Dr. Smith met J. R. R. Tolkien in the U.S. once.", True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": LESS_THAN}, "Hi there. Bye now.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nFirst part.\n***\nSecond part.\n***", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n***\n***\nSecond.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "Only one paragraph.", False),
    ("length_constraints:number_words", {"num_words": 5, "relation": LESS_THAN}, "one two three four", True),
    ("length_constraints:number_words", {"num_words": 5, "relation": LESS_THAN}, "one two three, four five", False),
    ("length_constraints:number_words", {"num_words": 4, "relation": AT_LEAST}, "Don't stop now", True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "hello"}, 'Intro.\n\n"Hello, world."', True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "hello"}, "Intro.\n\nGoodbye.", False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "hello"}, "Intro.\n\nHello.\n\nExtra.", False),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], see you at [address].", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], see you.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Body.\n\nP.S. See you soon.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Body with no postscript.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Body.\nP.P.S One more thing.", True),
    ("detectable_content:postscript", {"postscript_marker": "Note:"}, "Body.\nnote: this is a note", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "Points:\n* one\n* two", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two\n- three", False),
    ("detectable_format:constrained_response", {}, "My answer is yes.", True),
    ("detectable_format:constrained_response", {}, "Yes, definitely.", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and ** **", False),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "Section 1\nA\nSection 2\nB", True),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}, "SECTION 1\nOnly one.", False),
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("detectable_format:json_format", {}, 'Here it is: {"a": 1}', False),
    ("detectable_format:title", {}, "<<A Poem of Joy>>\nRoses are red.", True),
    ("detectable_format:title", {}, "<< >>\nNo real title.", False),
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", True),
    ("combination:two_responses", {}, "Same answer.\n******\nSame answer.", False),
    ("combination:two_responses", {}, "One.\n******\n******\nTwo.", False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem. Roses are red.", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure! Write a poem.", False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, 'Done. Any other questions?"', True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Bye.", False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": AT_LEAST}, "A WELL-KNOWN fact from NASA.", True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": AT_LEAST}, "Only ONE here, (ok)", False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": LESS_THAN}, "I like it.", True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": LESS_THAN}, "LIFE'S good.", False),
    ("change_case:english_capital", {}, "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER TODAY.", True),
    ("change_case:english_capital", {}, "This is an English sentence about the weather today.", False),
    ("change_case:english_capital", {}, "CECI EST UNE PHRASE EN FRANÇAIS SUR LE TEMPS QU'IL FAIT AUJOURD'HUI.", False),
    ("change_case:english_lowercase", {}, "this is an english sentence about the weather today.", True),
    ("change_case:english_lowercase", {}, "this is an English sentence about the weather today.", False),
    ("change_case:english_lowercase", {}, "ceci est une phrase en français sur le temps qu'il fait aujourd'hui.", False),
    ("punctuation:no_comma", {}, "No commas here at all.", True),
    ("punctuation:no_comma", {}, "One, two.", False),
    ("startend:quotation", {}, '  "Quoted from start to end."\n', True),
    ("startend:quotation", {}, 'Not quoted "inside" only.', False),
]  # fmt: skip


def followed(instruction_id: str, kwargs: dict, response: str) -> bool:
    result = VERIFIER(response, {"instruction_id_list": [instruction_id], "kwargs": [kwargs]})
    assert result.error is None, result.error
    [entry] = result.details["instructions"]
    assert entry["id"] == instruction_id
    assert result.reward == (1.0 if entry["followed"] else 0.0)
    assert result.correct == entry["followed"]
    return entry["followed"]


@pytest.mark.parametrize("instruction_id,kwargs,response,expected", CASES)
def test_ifeval_instruction(instruction_id, kwargs, response, expected):
    assert followed(instruction_id, kwargs, response) is expected


def test_all_25_ifeval_instructions_are_registered_as_ifeval():
    assert len(IFEVAL_IDS) == 25
    assert {i for i, spec in INSTRUCTIONS.items() if spec.source == "ifeval"} == set(IFEVAL_IDS)


def test_every_ifeval_instruction_has_a_positive_and_a_negative_case():
    outcomes = {(case[0], case[3]) for case in CASES}
    for instruction_id in IFEVAL_IDS:
        assert (instruction_id, True) in outcomes, instruction_id
        assert (instruction_id, False) in outcomes, instruction_id


@pytest.mark.parametrize(
    "relation,count,threshold,expected",
    [(LESS_THAN, 4, 5, True), (LESS_THAN, 5, 5, False), (AT_LEAST, 5, 5, True), (AT_LEAST, 4, 5, False)],
)
def test_relations_bound_the_count_exactly(relation, count, threshold, expected):
    response = " ".join(["word"] * count)
    kwargs = {"num_words": threshold, "relation": relation}
    assert followed("length_constraints:number_words", kwargs, response) is expected


def test_relation_is_case_and_space_insensitive():
    kwargs = {"num_words": 3, "relation": "  At Least "}
    assert followed("length_constraints:number_words", kwargs, "a b c")


def test_language_verdict_is_deterministic():
    # Short, ambiguous text is where unseeded langdetect flips between calls.
    text = "SHELDON: CLEVER, ANALYTICAL, SCIENTIST, QUIRKY, UNIQUE."
    verdicts = {followed("change_case:english_capital", {}, text) for _ in range(5)}
    assert len(verdicts) == 1
