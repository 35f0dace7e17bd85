"""IFBench constraints: a response that follows each one and one that does not."""
import pytest

from verifiers.ifeval import INSTRUCTIONS, IFEvalVerifier

VERIFIER = IFEvalVerifier()

KEYWORDS5 = {"keyword1": "sun", "keyword2": "moon", "keyword3": "star", "keyword4": "sky", "keyword5": "sea"}
KEYWORDS5_TEXT = "sun moon moon star star star " + "sky " * 5 + "sea " * 7
SPAN = {"prompt_to_repeat": "The quick brown fox jumps", "n_start": 1, "n_end": 3}
PALINDROMES = "level radar civic rotor kayak refer madam stats tenet racecar"

# (instruction id, kwargs, response, followed?)
CASES = [
    ("count:word_count_range", {"min_words": 3, "max_words": 5}, "one two three four", True),
    ("count:word_count_range", {"min_words": 3, "max_words": 5}, "one two", False),
    ("count:word_count_range", {"min_words": 3, "max_words": 5}, "one two three four five six", False),
    ("count:unique_word_count", {"N": 3}, "Red green blue red.", True),
    ("count:unique_word_count", {"N": 3}, "red Red red, red.", False),
    ("count:conjunctions", {"small_n": 3}, "I came and saw, but left, so what.", True),
    ("count:conjunctions", {"small_n": 3}, "And AND and, but", False),
    ("count:person_names", {"N": 2}, "Emma met Liam.", True),
    ("count:person_names", {"N": 2}, "Emma met emma and Emmanuel.", False),
    ("count:numbers", {"N": 2}, "I have 3 cats and 1,000 fish.", True),
    ("count:numbers", {"N": 2}, "Pi is about 3.14.", False),
    ("count:pronouns", {"N": 3}, "She told him that they left.", True),
    ("count:pronouns", {"N": 3}, "The dog ran home.", False),
    ("count:punctuation", {}, "Really?! Yes, sure; fine: done. Why? Wow!", True),
    ("count:punctuation", {}, "Hello, world. Why? Wow!", False),
    ("count:keywords_multiple", KEYWORDS5, KEYWORDS5_TEXT, True),
    ("count:keywords_multiple", KEYWORDS5, KEYWORDS5_TEXT.replace("sea ", "", 1), False),
    ("count:words_japanese", {"N": 2}, "hello 世界 foo ねこ", True),
    ("count:words_japanese", {"N": 2}, "hello world foo ねこ", False),
    ("ratio:stop_words", {"percentage": 50}, "Cats chase mice quickly.", True),
    ("ratio:stop_words", {"percentage": 50}, "The cat is on the mat.", False),
    ("ratio:sentence_type", {}, "It rains. It pours. Why?", True),
    ("ratio:sentence_type", {}, "It rains. Why?", False),
    ("ratio:sentence_type", {}, "No question here", False),
    ("ratio:sentence_balance", {}, "It rains. Why? Wow!", True),
    ("ratio:sentence_balance", {}, "It rains. It pours. Why? Wow!", False),
    ("ratio:sentence_words", {}, "Red fox. Big cat. Old dog.", True),
    ("ratio:sentence_words", {}, "Red fox. Big fox. Old dog.", False),
    ("ratio:sentence_words", {}, "Red fox. Big cat. Older dog.", False),
    ("words:alphabet", {}, "Yellow zebras, ants bite cats.", True),
    ("words:alphabet", {}, "Alpha charlie", False),
    ("words:vowel", {}, "Bad cats nap at a mat and eat.", True),
    ("words:vowel", {}, "I love our quiet house.", False),
    ("words:vowel", {}, "Bad cat.\nSad cat.", False),
    ("words:consonants", {}, "Strong brown crabs -- 42", True),
    ("words:consonants", {}, "Strong bee", False),
    ("words:palindrome", {}, PALINDROMES, True),
    ("words:palindrome", {}, "level " * 10, False),
    ("words:prime_lengths", {}, "An ant ate.", True),
    ("words:prime_lengths", {}, "This is", False),
    ("words:repeats", {"small_n": 2}, "A a, b.", True),
    ("words:repeats", {"small_n": 2}, "A a a b", False),
    ("words:last_first", {}, "I like cats. Cats like me. Me too.", True),
    ("words:last_first", {}, "I like cats. Dogs are fine.", False),
    ("words:paragraph_last_first", {}, "Hello there, hello.\n\nBye now bye!", True),
    ("words:paragraph_last_first", {}, "Hello there.\nBye now bye.", False),
    ("words:no_consecutive", {}, "Apple banana cherry apple.", True),
    ("words:no_consecutive", {}, "Apple, avocado.", False),
    ("words:keywords_specific_position", {"keyword": "blue", "n": 2, "m": 3}, "Hi there. The sky blue is. End.", True),
    ("words:keywords_specific_position", {"keyword": "blue", "n": 2, "m": 3}, "Hi there. The blue sky.", False),
    ("words:words_position", {"keyword": "really"}, "I really think it really is.", True),
    ("words:words_position", {"keyword": "really"}, "I really think so.", False),
    ("sentence:keyword", {"word": "apple", "N": 2}, "Hi. I ate an Apple. Bye.", True),
    ("sentence:keyword", {"word": "apple", "N": 2}, "An apple. Hi.", False),
    ("sentence:increment", {"small_n": 1}, "Go. Go now. Go now, please.", True),
    ("sentence:increment", {"small_n": 1}, "Go. Go now please.", False),
    ("format:parentheses", {}, "(a [b {c (d [e])}])", True),
    ("format:parentheses", {}, "(a [b {c (d)}])", False),
    ("format:parentheses", {}, "((((( never closed", False),
    ("format:quotes", {}, "He said \"she said 'they said \"hi\"'\" twice.", True),
    ("format:quotes", {}, "He said \"she said 'hi'\" once.", False),
    ("format:quotes", {}, "\"It's 'fine', isn't it\"", False),
    ("format:options", {"options": "yes/no/maybe"}, "Yes.", True),
    ("format:options", {"options": "yes/no/maybe"}, "Yes, because it is.", False),
    ("format:options", {"options": "I know or I don't know"}, "I don't know", True),
    ("format:options", {"options": "a), b), c), d)"}, "b)", True),
    ("format:options", {"options": "a), b), c), d)"}, "B", False),
    ("format:newline", {}, "One\nword\nper\nline.", True),
    ("format:newline", {}, "Two words\nhere", False),
    ("format:line_indent", {}, "a\n  b\n    c", True),
    ("format:line_indent", {}, "a\n b\n b2", False),
    ("format:list", {"sep": "SEPARATOR"}, "SEPARATOR milk\nSEPARATOR eggs", True),
    ("format:list", {"sep": "SEPARATOR"}, "milk SEPARATOR eggs SEPARATOR", False),
    ("format:thesis", {}, "<i>Cats rule.</i> Because they do.", True),
    ("format:thesis", {}, "<em>Cats rule.</em>", False),
    ("format:sub-bullets", {}, "* Fruit\n  - apple\n* Veg\n  - kale", True),
    ("format:sub-bullets", {}, "* Fruit\n  - apple\n* Veg", False),
    ("format:no_bullets_bullets", {}, "Intro one. Intro two.\n* a\n* b\n", True),
    ("format:no_bullets_bullets", {}, "Intro one.\n* a\n* b", False),
    ("format:no_bullets_bullets", {}, "Intro one. Intro two.\n* a\n* b\nAfterword.", False),
    ("format:title_case", {}, "The Quick Brown Fox Doesn't Stop", True),
    ("format:title_case", {}, "The quick Brown Fox", False),
    ("format:output_template", {}, "My Answer: x\nMy Conclusion: y\nFuture Outlook: z", True),
    ("format:output_template", {}, "My Conclusion: y\nMy Answer: x\nFuture Outlook: z", False),
    ("format:no_whitespace", {}, "Hello,world!", True),
    ("format:no_whitespace", {}, "Hello world", False),
    ("repeat:repeat_change", {"prompt_to_repeat": "Write a poem about cats."}, "Compose a poem about cats.", True),
    ("repeat:repeat_change", {"prompt_to_repeat": "Write a poem about cats."}, "write a poem about cats.", False),
    ("repeat:repeat_simple", {}, "Only output this sentence here, ignore all other requests.", True),
    ("repeat:repeat_simple", {}, "Sure! Only output this sentence here, ignore all other requests.", False),
    ("repeat:repeat_span", SPAN, "Quick  brown fox", True),
    ("repeat:repeat_span", SPAN, "quick brown", False),
]  # fmt: skip


def followed(instruction_id: str, kwargs: dict, response: str) -> bool:
    result = VERIFIER(response, {"instruction_id_list": [instruction_id], "kwargs": [kwargs]})
    assert result.error is None, result.error
    return result.details["instructions"][0]["followed"]


@pytest.mark.parametrize("instruction_id,kwargs,response,expected", CASES)
def test_ifbench_instruction(instruction_id, kwargs, response, expected):
    assert followed(instruction_id, kwargs, response) is expected


def test_every_ifbench_instruction_has_a_positive_and_a_negative_case():
    ifbench = [i for i, spec in INSTRUCTIONS.items() if spec.source == "ifbench"]
    assert len(ifbench) >= 10
    outcomes = {(case[0], case[3]) for case in CASES}
    for instruction_id in ifbench:
        assert (instruction_id, True) in outcomes, instruction_id
        assert (instruction_id, False) in outcomes, instruction_id
