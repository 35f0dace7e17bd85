"""IFBench (allenai/IFBench) constraints on counts, ratios, words and sentences.

Same ids and kwargs as IFBench. Where the reference check contradicts its own
instruction text, the instruction text wins, and the docstring says how:
ratios need at least one sentence of each kind, palindromes and conjunctions are
counted as distinct words, and tokens holding no letter are not words for
``words:consonants``.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

from verifiers.ifeval import text as T
from verifiers.ifeval.spec import INT, POSITIVE_INT, STR, KwargsError, instruction

SOURCE = "ifbench"

PERSON_NAMES = (
    "Emma Liam Sophia Jackson Olivia Noah Ava Lucas Isabella Mason Mia Ethan Charlotte "
    "Alexander Amelia Benjamin Harper Leo Zoe Daniel Chloe Samuel Lily Matthew Grace Owen "
    "Abigail Gabriel Ella Jacob Scarlett Nathan Victoria Elijah Layla Nicholas Audrey David "
    "Hannah Christopher Penelope Thomas Nora Andrew Aria Joseph Claire Ryan Stella Jonathan"
).split()
CONJUNCTIONS = frozenset("and but for nor or so yet".split())
PRONOUNS = frozenset(
    """i me we us you he him she her it they them my mine our ours your yours his hers its
    their theirs myself ourselves yourself yourselves himself herself itself themselves this
    that these those who whom whose which what whoever whomever whatever whichever anybody
    anyone anything everybody everyone everything nobody nothing somebody someone something
    each either neither both all some any none""".split()
)
VOWELS = frozenset("aeiou")
CONSONANTS = frozenset("bcdfghjklmnpqrstvwxyz")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


# ---------------------------------------------------------------------------- count:


def _min_not_above_max(kwargs: dict[str, Any]) -> None:
    if kwargs["min_words"] > kwargs["max_words"]:
        raise KwargsError("max_words", "field 'max_words' is smaller than 'min_words'")


@instruction(
    "count:word_count_range", SOURCE, validate=_min_not_above_max, min_words=INT, max_words=INT
)
def word_count_range(response: str, *, min_words: int, max_words: int) -> bool:
    return min_words <= T.count_words(response) <= max_words


@instruction("count:unique_word_count", SOURCE, N=INT)
def unique_word_count(response: str, *, N: int) -> bool:
    words = {T.strip_punctuation(w) for w in response.lower().split()}
    words.discard("")
    return len(words) >= N


@instruction("count:conjunctions", SOURCE, small_n=INT)
def conjunctions(response: str, *, small_n: int) -> bool:
    used = {T.strip_punctuation(w).lower() for w in response.split()} & CONJUNCTIONS
    return len(used) >= small_n


@instruction("count:person_names", SOURCE, N=INT)
def person_names(response: str, *, N: int) -> bool:
    # One pass over the words, not one regex search per name: a megabyte response took 15 s (every name
    # is one \w+ word, so "a \bName\b match" and "Name is one of the words" are the same test)
    words = set(re.findall(r"\w+", response))
    found = sum(1 for name in PERSON_NAMES if name in words)
    return found >= N


@instruction("count:numbers", SOURCE, N=INT)
def numbers(response: str, *, N: int) -> bool:
    # Punctuation is removed first so "3.14" and "1,000" are one number each.
    return len(re.findall(r"\d+", T.remove_punctuation(response))) == N


@instruction("count:pronouns", SOURCE, N=INT)
def pronouns(response: str, *, N: int) -> bool:
    # "she/her" is two pronouns: split on slashes as on spaces.
    words = re.findall(r"[a-z]+", response.lower().replace("/", " "))
    return sum(1 for w in words if w in PRONOUNS) >= N


@instruction("count:punctuation", SOURCE)
def punctuation_cover(response: str) -> bool:
    """Every one of . , ! ? ; : plus an interrobang (?!, !? or ‽)."""
    for interrobang in ("?!", "!?", "‽"):
        if interrobang in response:
            rest = response.replace(interrobang, "", 1)
            return all(mark in rest for mark in ".,!?;:")
    return False


@instruction("count:keywords_multiple", SOURCE, **{f"keyword{i}": STR for i in range(1, 6)})
def keywords_multiple(response: str, **keywords: str) -> bool:
    """keyword1..keyword5 appear exactly 1, 2, 3, 5 and 7 times (whole words)."""
    for name, times in zip(("keyword1", "keyword2", "keyword3", "keyword4", "keyword5"), (1, 2, 3, 5, 7)):
        pattern = r"\b" + re.escape(keywords[name]) + r"\b"
        if len(re.findall(pattern, response, flags=re.IGNORECASE)) != times:
            return False
    return True


@instruction("count:words_japanese", SOURCE, N=POSITIVE_INT)
def words_japanese(response: str, *, N: int) -> bool:
    for index, word in enumerate(response.split(), start=1):
        word = T.strip_punctuation(word)
        if index % N == 0 and word and not word.isdigit() and not _JAPANESE.search(word):
            return False
    return True


# ---------------------------------------------------------------------------- ratio:


@instruction("ratio:stop_words", SOURCE, percentage=INT)
def stop_words(response: str, *, percentage: int) -> bool:
    words = T.word_runs(response)
    if not words:
        return False
    stops = sum(1 for w in words if w.lower() in T.STOP_WORDS)
    return stops * 100 <= percentage * len(words)


def _sentence_kinds(response: str) -> Counter[str]:
    return Counter(T.sentence_end(s) for s in T.split_sentences(response))


@instruction("ratio:sentence_type", SOURCE)
def sentence_type(response: str) -> bool:
    """Declarative to interrogative 2:1; a text with no question has no such ratio."""
    kinds = _sentence_kinds(response)
    return kinds["?"] > 0 and kinds["."] == 2 * kinds["?"]


@instruction("ratio:sentence_balance", SOURCE)
def sentence_balance(response: str) -> bool:
    kinds = _sentence_kinds(response)
    return kinds["."] > 0 and kinds["."] == kinds["?"] == kinds["!"]


@instruction("ratio:sentence_words", SOURCE)
def sentence_words(response: str) -> bool:
    """Three sentences of the same length in characters, no word used twice."""
    sentences = T.split_sentences(response)
    if len(sentences) != 3 or len({len(s) for s in sentences}) != 1:
        return False
    words = T.split_words(" ".join(sentences))
    return len(words) == len(set(words))


# ---------------------------------------------------------------------------- words:


@instruction("words:alphabet", SOURCE)
def alphabet(response: str) -> bool:
    """Each word starts with the letter after the previous word's, Z wrapping to A."""
    words = T.split_words(response)
    if not words or words[0][0] not in string.ascii_lowercase:
        return False
    expected = words[0][0]
    for word in words[1:]:
        expected = chr((ord(expected) - ord("a") + 1) % 26 + ord("a"))
        if word[0] != expected:
            return False
    return True


@instruction("words:vowel", SOURCE)
def vowel(response: str) -> bool:
    """One paragraph (a single line) using at most three distinct vowels."""
    paragraph = response.strip()
    if "\n" in paragraph:
        return False
    return len(set(paragraph.lower()) & VOWELS) <= 3


@instruction("words:consonants", SOURCE)
def consonants(response: str) -> bool:
    for word in response.lower().split():
        if not any(c.isalpha() for c in word):
            continue
        if not any(a in CONSONANTS and b in CONSONANTS for a, b in zip(word, word[1:])):
            return False
    return True


@instruction("words:palindrome", SOURCE)
def palindrome(response: str) -> bool:
    """At least 10 distinct palindromic words of 5 or more characters."""
    found = {w for w in T.split_words(response) if len(w) >= 5 and w == w[::-1]}
    return len(found) >= 10


@instruction("words:prime_lengths", SOURCE)
def prime_lengths(response: str) -> bool:
    return all(_is_prime(len(w)) for w in T.remove_punctuation(response).split())


@instruction("words:repeats", SOURCE, small_n=INT)
def repeats(response: str, *, small_n: int) -> bool:
    counts = Counter(T.split_words(response))
    return all(count <= small_n for count in counts.values())


@instruction("words:last_first", SOURCE)
def last_first(response: str) -> bool:
    """The last word of each sentence is the first word of the next one."""
    sentences = T.split_sentences(response)
    for current, following in zip(sentences, sentences[1:]):
        last = T.split_words(current)
        first = T.split_words(following)
        if not last or not first or last[-1] != first[0]:
            return False
    return True


@instruction("words:paragraph_last_first", SOURCE)
def paragraph_last_first(response: str) -> bool:
    """Each paragraph (non-empty line) ends with the word it starts with."""
    for line in response.split("\n"):
        words = T.split_words(line)
        if words and words[0] != words[-1]:
            return False
    return True


@instruction("words:no_consecutive", SOURCE)
def no_consecutive(response: str) -> bool:
    words = T.split_words(response)
    return all(a[0] != b[0] for a, b in zip(words, words[1:]))


@instruction(
    "words:keywords_specific_position", SOURCE, keyword=STR, n=POSITIVE_INT, m=POSITIVE_INT
)
def keywords_specific_position(response: str, *, keyword: str, n: int, m: int) -> bool:
    """``keyword`` is the m-th word of the n-th sentence."""
    sentences = T.split_sentences(response)
    if len(sentences) < n:
        return False
    words = T.whole_words(sentences[n - 1])
    return len(words) >= m and words[m - 1].lower() == keyword.lower()


@instruction("words:words_position", SOURCE, keyword=STR)
def words_position(response: str, *, keyword: str) -> bool:
    """The second word and the second-to-last word are both ``keyword``."""
    words = [w.lower() for w in T.whole_words(response)]
    return len(words) >= 2 and words[1] == words[-2] == keyword.lower()


# ---------------------------------------------------------------------------- sentence:


@instruction("sentence:keyword", SOURCE, word=STR, N=POSITIVE_INT)
def sentence_keyword(response: str, *, word: str, N: int) -> bool:
    sentences = T.split_sentences(response)
    if len(sentences) < N:
        return False
    pattern = r"\b" + re.escape(word) + r"\b"
    return bool(re.search(pattern, sentences[N - 1], flags=re.IGNORECASE))


@instruction("sentence:increment", SOURCE, small_n=INT)
def sentence_increment(response: str, *, small_n: int) -> bool:
    """Each sentence has exactly ``small_n`` more words than the one before."""
    lengths = [len(T.remove_punctuation(s).split()) for s in T.split_sentences(response)]
    if not lengths:
        return False
    return all(b - a == small_n for a, b in zip(lengths, lengths[1:]))
