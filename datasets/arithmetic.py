"""Synthetic arithmetic word problems: the task that makes RL-Zero measurable on a CPU.

Eight templates ask one question each, and every template has exactly ONE correct operation:

    add_buy      "Ava has 7 apples. She buys 5 more apples. How many apples does Ava have now?"   7 + 5
    add_total    "... has 7 apples and Ben has 5 apples. How many apples do they have in total?"  7 + 5
    sub_give     "... gives 5 apples to Ben. How many apples does Ava have left?"                 7 - 5
    sub_compare  "... How many more apples does Ava have than Ben?"                                7 - 5
    mul_bags     "... has 3 bags with 4 apples in each bag. How many apples does Ava have?"      3 * 4
    mul_rows     "... puts the apples in 3 rows with 4 apples in each row. How many apples ..."  3 * 4
    div_share    "... shares 12 apples equally among 3 friends. How many apples does each ..."   12 / 3
    div_boxes    "... packs 12 apples into boxes of 3 apples each. How many boxes ..."           12 / 3

Operands are 1..12 (subtraction's minuend goes to 24, division is exact); results lie in 0..144.
``generate(split, n, seed)`` draws rows from "train" or "eval"; a (template, operands) instance belongs to
exactly one split, decided by a hash of the instance, so held-out evaluation never sees a training instance.

The RL-Zero prompt is plain text (no chat tokens), see ``PROMPT_TEMPLATE``; the expected response is
``" 7 + 5 = 12\\nAnswer: 12"`` and generation stops at a string in ``STOP`` or at end of text.

How the base checkpoint is made to leave room for RL (a synthetic stand-in for web noise, stated honestly):
``pretrain_corpus`` mixes (a) arithmetic fact sheets that are always right ("7 + 5 = 12", "The product of 3 and
4 is 12."), (b) word problems in exactly the RL prompt's Question/Solution/Answer format and (c) filler prose.
For the five templates in ``NOISY_TEMPLATES`` a fraction ``NOISE_RATE`` (0.75) of the word-problem documents
solve the problem with a WRONG but consistent operation (adding instead of taking away, subtracting instead of
sharing, ...) and give that wrong operation's answer. A model pretrained on it knows arithmetic and the answer
format but prefers the wrong operation on the noisy templates: greedy decoding gets about the three clean
templates right (measured 0.38-0.41 over seeds), sampling at temperature 1 also gets about a quarter of the noisy
ones (0.49-0.53 in all; bench/base_pretrain_probe.py). RL-Zero only has to learn which operation each template
needs, which a verifier reward can teach: 150 fine-tuning steps on correctly solved problems lift the same model
to 0.85-0.94 greedy. The rate was tuned up from a first guess of 0.65 (sampled accuracy came out ~0.6, above the
wanted 0.40-0.55); subtraction gets twice the fact-sheet lines (``FACT_OP_WEIGHTS``) because both subtraction
templates are noisy and it has the largest operand pool.
Real web noise is not this tidy; this is a controlled gap, not a claim about real pretraining data.
``midtrain_corpus`` is the "Dolmino-like" stage: correct operations only, half of them with a one-line worked
rationale, plus fact sheets, so a midtrained base starts higher.
"""
from __future__ import annotations

import functools
import hashlib
import random
import re

PROMPT_TEMPLATE = "Solve the problem. Finish with a line 'Answer: <number>'.\n\nQuestion: {question}\nSolution:"
STOP = ["\n\n", "Question:"]
VERIFIER = "math"
SPLITS = ("train", "eval")
EVAL_PERCENT = 20  # share of (template, operands) instances held out for "eval"

MAX_OPERAND = 12  # operands 1..12 (subtraction's minuend to 24); results 0..144
NOISE_RATE = 0.75
# template -> the wrong operation the noisy pretraining documents use for it
NOISY_TEMPLATES = {"add_total": "*", "sub_give": "+", "sub_compare": "+", "mul_rows": "+", "div_share": "-"}
PRETRAIN_MIX = {"problem": 0.55, "facts": 0.33, "filler": 0.12}
MIDTRAIN_MIX = {"problem": 0.75, "facts": 0.25}
THINK_SHARE = 0.5  # midtraining: share of word problems solved with a one-line rationale first
# how often each operation appears on fact sheets; subtraction has the largest pool (minuends to 24) and two noisy
# templates that rarely show it in word problems, so it gets more facts
FACT_OP_WEIGHTS = {"+": 1.0, "-": 2.0, "*": 1.0, "/": 1.0}

NAMES = [("Ava", "She"), ("Ben", "He"), ("Mia", "She"), ("Leo", "He"), ("Zoe", "She"), ("Sam", "He"),
         ("Ivy", "She"), ("Max", "He"), ("Emma", "She"), ("Noah", "He"), ("Lily", "She"), ("Omar", "He")]
OBJECTS = ["apples", "pencils", "marbles", "stickers", "cookies", "books", "shells", "cards", "coins", "balloons"]

# name -> (operation, question text, rationale used by the midtraining "worked" solutions)
TEMPLATES: dict[str, tuple[str, str, str]] = {
    "add_buy": ("+", "{n1} has {a} {obj}. {p1} buys {b} more {obj}. How many {obj} does {n1} have now?",
                "Buying more adds to what {n1} has."),
    "add_total": ("+", "{n1} has {a} {obj} and {n2} has {b} {obj}. How many {obj} do they have in total?",
                  "In total means we add the two amounts."),
    "sub_give": ("-", "{n1} has {a} {obj}. {p1} gives {b} {obj} to {n2}. How many {obj} does {n1} have left?",
                 "Giving some away takes them from what {n1} has."),
    "sub_compare": ("-", "{n1} has {a} {obj}. {n2} has {b} {obj}. How many more {obj} does {n1} have than {n2}?",
                    "How many more means we take the smaller amount from the larger."),
    "mul_bags": ("*", "{n1} has {a} bags with {b} {obj} in each bag. How many {obj} does {n1} have?",
                 "Equal bags means we multiply the bags by the amount in each."),
    "mul_rows": ("*", "{n1} puts the {obj} in {a} rows with {b} {obj} in each row. How many {obj} are there?",
                 "Equal rows means we multiply the rows by the amount in each."),
    "div_share": ("/", "{n1} shares {a} {obj} equally among {b} friends. How many {obj} does each friend get?",
                  "Sharing equally means we divide by the number of friends."),
    "div_boxes": ("/", "{n1} packs {a} {obj} into boxes of {b} {obj} each. How many boxes does {n1} fill?",
                  "Filling boxes of equal size means we divide by the box size."),
}


def apply(op: str, a: int, b: int) -> int:
    """a op b on integers; division must be exact (the generator only makes exact ones)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0 or a % b:
            raise ValueError(f"{a} / {b} is not an exact division")
        return a // b
    raise ValueError(f"unknown operation {op!r}")


def _operand_pool(op: str) -> tuple[tuple[int, int], ...]:
    return _pool(op, MAX_OPERAND)


@functools.lru_cache(maxsize=None)
def _pool(op: str, top: int) -> tuple[tuple[int, int], ...]:
    if op in "+*":
        return tuple((a, b) for a in range(1, top + 1) for b in range(1, top + 1))
    if op == "-":  # the minuend goes up to the largest sum, so every sum has its inverse
        return tuple((a, b) for a in range(1, 2 * top + 1) for b in range(1, min(a, top) + 1))
    return tuple((d * q, d) for d in range(2, top + 1) for q in range(1, top + 1))  # "/": dividend, divisor >= 2


def split_of(template: str, a: int, b: int) -> str:
    """The split that owns this instance: a stable hash, so it never depends on the seed or on n."""
    digest = hashlib.sha256(f"{template}|{a}|{b}".encode()).digest()
    return "eval" if int.from_bytes(digest[:4], "big") % 100 < EVAL_PERCENT else "train"


def instances(template: str, split: str) -> list[tuple[int, int]]:
    """Every (a, b) of ``template`` that belongs to ``split``, in a fixed order."""
    _check_split(split)
    return list(_instances(template, split))


def _instances(template: str, split: str) -> tuple[tuple[int, int], ...]:
    return _split_pool(template, split, MAX_OPERAND)


@functools.lru_cache(maxsize=None)
def _split_pool(template: str, split: str, top: int) -> tuple[tuple[int, int], ...]:
    op = TEMPLATES[template][0]
    return tuple((a, b) for a, b in _pool(op, top) if split_of(template, a, b) == split)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"arithmetic: unknown split {split!r}; expected one of {SPLITS}")


def _question(rng: random.Random, template: str, a: int, b: int) -> tuple[str, str]:
    """The question text and its main character's name."""
    (n1, p1), (n2, _) = rng.sample(NAMES, 2)
    return TEMPLATES[template][1].format(n1=n1, p1=p1, n2=n2, a=a, b=b, obj=rng.choice(OBJECTS)), n1


def generate(split: str, n: int, seed: int) -> list[dict]:
    """``n`` problems of ``split``; the same (split, n, seed) always gives the same rows.

    Templates take turns (row i uses template i mod 8 of a seeded order) so every template is equally
    represented; within a template, instances are walked in a seeded shuffled order and only repeat (with other
    names and objects) once all of them were used.
    """
    _check_split(split)
    if n < 0:
        raise ValueError(f"arithmetic: n must be >= 0, got {n}")
    rng = random.Random(f"arithmetic/{split}/{seed}")
    order = list(TEMPLATES)
    rng.shuffle(order)
    pools = {t: instances(t, split) for t in order}
    cursor = {t: len(pools[t]) for t in order}  # exhausted: shuffle before first use
    rows = []
    for i in range(n):
        template = order[i % len(order)]
        if cursor[template] == len(pools[template]):
            rng.shuffle(pools[template])
            cursor[template] = 0
        a, b = pools[template][cursor[template]]
        cursor[template] += 1
        op = TEMPLATES[template][0]
        rows.append({
            "id": f"arithmetic-{split}-{seed}-{i}",
            "question": _question(rng, template, a, b)[0],
            "answer": str(apply(op, a, b)),
            "verifier": VERIFIER,
            "template": template,
            "operands": [a, b],
        })
    return rows


def format_prompt(row: dict) -> str:
    """The RL-Zero prompt for a row (anything with a "question")."""
    return PROMPT_TEMPLATE.format(question=row["question"])


def solution(a: int, b: int, op: str, rationale: str | None = None) -> str:
    """The response text after "Solution:", e.g. " 7 + 5 = 12\\nAnswer: 12"."""
    result = apply(op, a, b)
    lead = f" {rationale}" if rationale else ""
    return f"{lead} {a} {op} {b} = {result}\nAnswer: {result}"


_ANSWER_LINE = re.compile(r"Answer:\s*(-?\d+(?:\.\d+)?)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def extract_answer(response: str) -> str | None:
    """The task's answer rule: the number on the first "Answer:" line, else the last number, else None."""
    match = _ANSWER_LINE.search(response)
    if match:
        return match.group(1)
    numbers = _NUMBER.findall(response)
    return numbers[-1] if numbers else None


def is_correct(response: str, answer: str) -> bool:
    extracted = extract_answer(response)
    if extracted is None:
        return False
    try:
        return float(extracted) == float(answer)
    except ValueError:
        return False


# ---- corpora for the base ("web") and midtraining ("Dolmino-like") stages -------------------------------

_FACT_WORDS = {"+": "The sum of {a} and {b} is {r}.", "-": "The difference of {a} and {b} is {r}.",
               "*": "The product of {a} and {b} is {r}.", "/": "{a} divided by {b} is {r}."}
_FACT_HEADERS = ["Practice sheet", "Math facts", "Homework answers", "Quick review", "Number facts"]


def _facts_doc(rng: random.Random) -> str:
    lines = []
    sentences = rng.random() < 0.2  # a minority of sheets use the sentence surface form
    ops, weights = list(FACT_OP_WEIGHTS), list(FACT_OP_WEIGHTS.values())
    for _ in range(rng.randint(6, 14)):
        op = rng.choices(ops, weights)[0]
        a, b = rng.choice(_operand_pool(op))
        r = apply(op, a, b)
        lines.append(_FACT_WORDS[op].format(a=a, b=b, r=r) if sentences else f"{a} {op} {b} = {r}")
    return f"{rng.choice(_FACT_HEADERS)}:\n" + "\n".join(lines)


_PLACES = ["park", "library", "market", "school", "beach", "museum", "garden", "station"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ADJS = ["quiet", "busy", "sunny", "cold", "crowded", "pleasant", "windy", "new"]
_FILLER = [
    "{n1} went to the {place} on {day}.",
    "The {place} was {adj} that day.",
    "{n1} and {n2} met at the {place} after lunch.",
    "Click here to read more about the {place}.",
    "The {place} opens at {h1} and closes at {h2}.",
    "{n1} likes {obj} more than anything.",
    "Posted on {day} by {n1}. {k} comments.",
    "It was a {adj} {day} and {n2} stayed at home.",
    "Tickets for the {place} cost {k} coins.",
]


def _filler_doc(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(3, 7)):
        (n1, _), (n2, _) = rng.sample(NAMES, 2)
        sentences.append(rng.choice(_FILLER).format(
            n1=n1, n2=n2, place=rng.choice(_PLACES), day=rng.choice(_DAYS), adj=rng.choice(_ADJS),
            obj=rng.choice(OBJECTS), h1=rng.randint(6, 10), h2=rng.randint(4, 9), k=rng.randint(1, 40)))
    return " ".join(sentences)


def _problem_doc(rng: random.Random, noisy: bool, rationale: bool) -> dict:
    template = rng.choice(list(TEMPLATES))
    op, _, why = TEMPLATES[template]
    a, b = rng.choice(_instances(template, "train"))
    question, name = _question(rng, template, a, b)
    wrong = noisy and template in NOISY_TEMPLATES and rng.random() < NOISE_RATE
    used = NOISY_TEMPLATES[template] if wrong else op
    text = format_prompt({"question": question}) + solution(
        a, b, used, why.format(n1=name) if rationale else None)
    return {"text": text, "kind": "problem", "template": template, "operands": [a, b], "op": used,
            "wrong": wrong}


def _documents(n_docs: int, seed: int, stage: str) -> list[dict]:
    if n_docs < 0:
        raise ValueError(f"arithmetic: n_docs must be >= 0, got {n_docs}")
    rng = random.Random(f"arithmetic/{stage}/{seed}")
    mix = PRETRAIN_MIX if stage == "pretrain" else MIDTRAIN_MIX
    kinds, weights = list(mix), list(mix.values())
    docs = []
    for _ in range(n_docs):
        kind = rng.choices(kinds, weights)[0]
        if kind == "problem":
            rationale = stage == "midtrain" and rng.random() < THINK_SHARE
            docs.append(_problem_doc(rng, noisy=stage == "pretrain", rationale=rationale))
        elif kind == "facts":
            docs.append({"text": _facts_doc(rng), "kind": "facts"})
        else:
            docs.append({"text": _filler_doc(rng), "kind": "filler"})
    return docs


def pretrain_documents(n_docs: int, seed: int) -> list[dict]:
    """Base-stage documents with their provenance: kind, and for word problems template/op/"wrong"."""
    return _documents(n_docs, seed, "pretrain")


def midtrain_documents(n_docs: int, seed: int) -> list[dict]:
    """Midtraining documents: correct operations only, half with a worked rationale."""
    return _documents(n_docs, seed, "midtrain")


def pretrain_corpus(n_docs: int, seed: int) -> list[str]:
    """Texts of the noisy "web" stage (see the module docstring for its design)."""
    return [d["text"] for d in pretrain_documents(n_docs, seed)]


def midtrain_corpus(n_docs: int, seed: int) -> list[str]:
    """Texts of the clean "Dolmino-like" stage."""
    return [d["text"] for d in midtrain_documents(n_docs, seed)]


# ---- a candidate pool for source-aware selection (rlvr select, rlvr/recipes/select) ---------------------
# Four sources, each with a planted defect of its own kind, so that one fixed rubric misjudges some of them:
#   pool_web    the pretraining mix: word problems solved with a wrong operation (NOISY_TEMPLATES), and filler
#   pool_facts  fact sheets whose results column slipped by one line from some line on (a misaligned spreadsheet
#               export: each result is the next line's, and the last line is left with the error value #REF!)
#   pool_think  <think> traces whose rationale and equation are right but whose final line uses a wrong operation
#   pool_qa     question -> answer pairs whose answer applies a wrong operation
# ``pool_documents(source, n, seed)`` returns the documents with their provenance ("defect" and the kind of it);
# the ``pool_*_corpus`` functions return only the texts, which is all a mix (and so the selector) ever reads.
# Provenance is for evaluating a selection (and the oracle baseline), never an input of the selector.
POOL_SOURCES = ("web", "facts", "think", "qa")
POOL_DEFECT_RATE = 0.3  # facts, think, qa: share of documents carrying the source's defect
POOL_FACTS_OPS = "+-*/"


def _wrong_op(rng: random.Random, template: str, a: int, b: int) -> str:
    """A wrong operation for (template, a, b) whose result is a whole number >= 0: the template's usual
    mistake (NOISY_TEMPLATES) when it has one, else any valid wrong operation."""
    right = TEMPLATES[template][0]
    usual = NOISY_TEMPLATES.get(template)
    if usual is not None:
        return usual
    valid = [op for op in POOL_FACTS_OPS if op != right and (op != "-" or a >= b) and (op != "/" or a % b == 0)]
    return rng.choice(valid)


def _pool_facts(rng: random.Random) -> dict:
    """A fact sheet; a defective one has its results shifted up by one line from a random line on."""
    ops, weights = list(FACT_OP_WEIGHTS), list(FACT_OP_WEIGHTS.values())
    rows = []
    for _ in range(rng.randint(6, 12)):
        op = rng.choices(ops, weights)[0]
        a, b = rng.choice(_operand_pool(op))
        rows.append((a, op, b, apply(op, a, b)))
    results = [r for *_, r in rows]
    defect = rng.random() < POOL_DEFECT_RATE
    if defect:
        start = rng.randint(0, len(rows) // 2)
        results = results[:start] + results[start + 1:] + ["#REF!"]
    sentences = rng.random() < 0.2
    lines = [_FACT_WORDS[op].format(a=a, b=b, r=r) if sentences else f"{a} {op} {b} = {r}"
             for (a, op, b, _), r in zip(rows, results)]
    wrong = sum(str(r) != str(row[3]) for row, r in zip(rows, results))
    return {"text": f"{rng.choice(_FACT_HEADERS)}:\n" + "\n".join(lines), "kind": "facts",
            "defect": wrong > 0, "defect_kind": "misaligned results" if wrong else ""}


def _pool_problem(rng: random.Random, source: str) -> dict:
    """A word problem of the think or qa source, right or (at POOL_DEFECT_RATE) answered with a wrong operation."""
    template = rng.choice(list(TEMPLATES))
    op, _, why = TEMPLATES[template]
    a, b = rng.choice(_instances(template, "train"))
    question, name = _question(rng, template, a, b)
    defect = rng.random() < POOL_DEFECT_RATE
    used = _wrong_op(rng, template, a, b) if defect else op
    r = apply(used, a, b)
    if source == "qa":
        text = f"Question: {question}\nAnswer: {a} {used} {b} = {r}"
        kind = "wrong answer"
    else:  # the rationale and the thought equation are right; the final line may not follow them
        reason = why.format(n1=name)
        text = (f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n<think>\n{reason} {a} {op} {b} = "
                f"{apply(op, a, b)}.\n</think>\n{a} {used} {b} = {r}\nAnswer: {r}<|im_end|>\n")
        kind = "final line contradicts the rationale"
    return {"text": text, "kind": source, "template": template, "operands": [a, b], "op": used,
            "defect": defect, "defect_kind": kind if defect else ""}


def pool_documents(source: str, n_docs: int, seed: int) -> list[dict]:
    """``n_docs`` documents of pool source ``source`` (one of POOL_SOURCES) with provenance: "defect" (bool)
    and "defect_kind". The same (source, n_docs, seed) always gives the same documents."""
    if source not in POOL_SOURCES:
        raise ValueError(f"arithmetic: unknown pool source {source!r}; expected one of {POOL_SOURCES}")
    if n_docs < 0:
        raise ValueError(f"arithmetic: n_docs must be >= 0, got {n_docs}")
    rng = random.Random(f"arithmetic/pool_{source}/{seed}")
    if source == "facts":
        return [_pool_facts(rng) for _ in range(n_docs)]
    if source in ("think", "qa"):
        return [_pool_problem(rng, source) for _ in range(n_docs)]
    docs = []
    for _ in range(n_docs):
        kind = rng.choices(list(PRETRAIN_MIX), list(PRETRAIN_MIX.values()))[0]
        if kind == "problem":
            doc = _problem_doc(rng, noisy=True, rationale=False)
            doc.update(defect=doc["wrong"], defect_kind="wrong operation" if doc["wrong"] else "")
        else:
            doc = {"text": _facts_doc(rng) if kind == "facts" else _filler_doc(rng), "kind": kind, "defect": False,
                   "defect_kind": ""}
        docs.append(doc)
    return docs


def pool_web_corpus(n_docs: int, seed: int) -> list[str]:
    return [d["text"] for d in pool_documents("web", n_docs, seed)]


def pool_facts_corpus(n_docs: int, seed: int) -> list[str]:
    return [d["text"] for d in pool_documents("facts", n_docs, seed)]


def pool_think_corpus(n_docs: int, seed: int) -> list[str]:
    return [d["text"] for d in pool_documents("think", n_docs, seed)]


def pool_qa_corpus(n_docs: int, seed: int) -> list[str]:
    return [d["text"] for d in pool_documents("qa", n_docs, seed)]
