"""Multi-step running-value problems: the long-response task, where CAMPO's repetition penalty and staged
length budgets have something to bind on (on ``arithmetic`` responses are ~16 tokens and never loop).

A problem is a start value and a chain of 6..20 operations, each applied to the running value:

    "Start with 14. (1) Add 5. (2) Multiply by 2. (3) Subtract 7. ... What is the number at the end?"

The operations are ``add k`` / ``subtract k`` (k in 1..9), ``multiply by 2`` and ``divide by 2``; the chain is
drawn so the running value stays a whole number in 0..MAX_VALUE (subtract never goes below 0, multiply never
above MAX_VALUE, divide only even values). The written solution takes one line per operation and ends in the
``Answer:`` line the ``math`` verifier reads:

    Solution:
    Step 1: add 5. 14 + 5 = 19.
    Step 2: multiply by 2. 19 * 2 = 38.
    ...
    Answer: 31

With the tiny base's tokenizer (digits are single tokens) a step line is about 18 tokens, so solutions take
about 115 (6 steps) to 380 (20 steps) tokens; tests/data/test_data_multistep.py measures it.
``generate(split, n, seed)`` draws rows from "train" or "eval"; an instance (start value and operations) belongs
to exactly one split, decided by a hash of the instance, so held-out evaluation never sees a training instance.

How the base is made to loop and run long, as base models do (a stated stand-in, not a claim about web data):
``pretrain_corpus`` mixes worked problems in exactly the RL prompt's format with practice sheets of the four
operations, and a share of the worked problems is imperfect:
- "stuck" (STUCK_RATE): the solution is right up to a step, then writes that step's line again and again
  (LOOP_REPEATS times, 180-720 tokens) and the document is cut mid-line, with no answer. A model trained on it
  learns that a repeated line is followed by the same line: sampled, it falls into a loop it rarely leaves and
  is cut at the budget (CAMPO's repetition detector finds the loop; the length budget cuts it).
- "runaway" (RUNAWAY_RATE): the solution does every step, then goes on with invented steps the question never
  asked for (RUNAWAY_STEPS of them) and is cut mid-line with no answer: long, often truncated, not a loop.
The clean worked problems are the rest. ``midtrain_corpus`` has clean worked problems and sheets only.
"""
from __future__ import annotations

import hashlib
import random
import re

PROMPT_TEMPLATE = "Solve the problem step by step. Finish with a line 'Answer: <number>'.\n\nQuestion: {question}\nSolution:"
STOP = ["\n\n", "Question:"]
VERIFIER = "math"
SPLITS = ("train", "eval")
EVAL_PERCENT = 20  # share of instances held out for "eval"

MIN_STEPS, MAX_STEPS = 6, 20  # operations per problem (drawn uniformly)
MAX_VALUE = 60  # the running value stays in 0..MAX_VALUE
MAX_START = 20  # start values 1..MAX_START
MAX_ADDEND = 9  # add / subtract k with k in 1..MAX_ADDEND
# operation -> relative weight when it is valid for the running value (multiply/divide by 2 less often)
OP_WEIGHTS = {"add": 3.0, "subtract": 3.0, "multiply": 1.0, "divide": 1.0}
STUCK_RATE = 0.2  # pretraining worked problems that fall into a loop (see the module docstring)
LOOP_REPEATS = (10, 40)  # stuck documents repeat the line this many times (inclusive; long, so a loop rarely ends)
RUNAWAY_RATE = 0.15  # pretraining worked problems that run past the last step
RUNAWAY_STEPS = (4, 14)  # invented steps written by a runaway document (inclusive range)
PRETRAIN_MIX = {"problem": 0.75, "sheet": 0.25}
MIDTRAIN_MIX = {"problem": 0.85, "sheet": 0.15}

_SYMBOL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}
_QUESTION_OP = {"add": "Add {k}.", "subtract": "Subtract {k}.", "multiply": "Multiply by 2.", "divide": "Divide by 2."}
_STEP_OP = {"add": "add {k}", "subtract": "subtract {k}", "multiply": "multiply by 2", "divide": "divide by 2"}


def apply(op: str, value: int, k: int) -> int:
    """One operation on the running value; raises when it would leave 0..MAX_VALUE or not divide exactly."""
    if op == "add":
        out = value + k
    elif op == "subtract":
        out = value - k
    elif op == "multiply":
        out = value * k
    elif op == "divide":
        if k == 0 or value % k:
            raise ValueError(f"{value} / {k} is not an exact division")
        out = value // k
    else:
        raise ValueError(f"unknown operation {op!r}")
    if not 0 <= out <= MAX_VALUE:
        raise ValueError(f"{op} {k} takes {value} to {out}, outside 0..{MAX_VALUE}")
    return out


def _valid_ops(value: int) -> list[tuple[str, int]]:
    """Every (operation, k) that keeps ``value`` in range."""
    ops = [("add", k) for k in range(1, MAX_ADDEND + 1) if value + k <= MAX_VALUE]
    ops += [("subtract", k) for k in range(1, min(value, MAX_ADDEND) + 1)]
    if 0 < value * 2 <= MAX_VALUE:
        ops.append(("multiply", 2))
    if value > 0 and value % 2 == 0:
        ops.append(("divide", 2))
    return ops


def _draw_op(rng: random.Random, value: int) -> tuple[str, int]:
    ops = _valid_ops(value)
    weights = [OP_WEIGHTS[op] / sum(o == op for o, _ in ops) for op, _ in ops]  # each kind keeps its weight
    return rng.choices(ops, weights)[0]


def _draw_instance(rng: random.Random, steps: int | None = None) -> tuple[int, list[tuple[str, int]]]:
    start = rng.randint(1, MAX_START)
    steps = rng.randint(MIN_STEPS, MAX_STEPS) if steps is None else steps
    value, ops = start, []
    for _ in range(steps):
        op, k = _draw_op(rng, value)
        value = apply(op, value, k)
        ops.append((op, k))
    return start, ops


def values(start: int, ops: list[tuple[str, int]]) -> list[int]:
    """The running value after each operation (the last one is the answer)."""
    out, value = [], start
    for op, k in ops:
        value = apply(op, value, k)
        out.append(value)
    return out


def split_of(start: int, ops: list[tuple[str, int]]) -> str:
    """The split that owns this instance: a stable hash, so it never depends on the seed or on n."""
    key = f"{start}|" + ",".join(f"{op}{k}" for op, k in ops)
    digest = hashlib.sha256(key.encode()).digest()
    return "eval" if int.from_bytes(digest[:4], "big") % 100 < EVAL_PERCENT else "train"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"multistep: unknown split {split!r}; expected one of {SPLITS}")


def question(start: int, ops: list[tuple[str, int]]) -> str:
    parts = [f"({i}) {_QUESTION_OP[op].format(k=k)}" for i, (op, k) in enumerate(ops, 1)]
    return f"Start with {start}. " + " ".join(parts) + " What is the number at the end?"


def _draw_in_split(rng: random.Random, split: str) -> tuple[int, list[tuple[str, int]]]:
    while True:  # rejection keeps the draw's length distribution the same in both splits
        start, ops = _draw_instance(rng)
        if split_of(start, ops) == split:
            return start, ops


def generate(split: str, n: int, seed: int) -> list[dict]:
    """``n`` problems of ``split``; the same (split, n, seed) always gives the same rows, and a longer draw
    starts with the shorter one."""
    _check_split(split)
    if n < 0:
        raise ValueError(f"multistep: n must be >= 0, got {n}")
    rng = random.Random(f"multistep/{split}/{seed}")
    rows = []
    for i in range(n):
        start, ops = _draw_in_split(rng, split)
        rows.append({
            "id": f"multistep-{split}-{seed}-{i}",
            "question": question(start, ops),
            "answer": str(values(start, ops)[-1]),
            "verifier": VERIFIER,
            "start": start,
            "ops": [[op, k] for op, k in ops],
            "steps": len(ops),
        })
    return rows


def format_prompt(row: dict) -> str:
    """The RL-Zero prompt for a row (anything with a "question")."""
    return PROMPT_TEMPLATE.format(question=row["question"])


def step_line(i: int, op: str, k: int, before: int) -> str:
    """"Step 3: multiply by 2. 19 * 2 = 38." (no newline)."""
    return f"Step {i}: {_STEP_OP[op].format(k=k)}. {before} {_SYMBOL[op]} {k} = {apply(op, before, k)}."


def step_lines(start: int, ops: list[tuple[str, int]]) -> list[str]:
    before = [start, *values(start, ops)[:-1]]
    return [step_line(i, op, k, b) for i, ((op, k), b) in enumerate(zip(ops, before), 1)]


def solution(start: int, ops: list[tuple[str, int]]) -> str:
    """The response text after "Solution:": one line per step, then "Answer: <final value>"."""
    return "\n" + "\n".join(step_lines(start, ops)) + f"\nAnswer: {values(start, ops)[-1]}"


_ANSWER_LINE = re.compile(r"Answer:\s*(-?\d+)")
_NUMBER = re.compile(r"-?\d+")


def extract_answer(response: str) -> str | None:
    """The task's answer rule: the number on the first "Answer:" line, else the last number, else None."""
    match = _ANSWER_LINE.search(response)
    if match:
        return match.group(1)
    numbers = _NUMBER.findall(response)
    return numbers[-1] if numbers else None


# ---- corpora for the base ("web") and midtraining stages ------------------------------------------------

_SHEET_HEADERS = ["Practice sheet", "Warm-up", "Quick review", "Number facts", "Homework answers"]


def _sheet_doc(rng: random.Random) -> dict:
    """A practice sheet of single operations, always right (where the base learns its arithmetic)."""
    lines = []
    for _ in range(rng.randint(8, 16)):
        value = rng.randint(0, MAX_VALUE)
        while not _valid_ops(value):
            value = rng.randint(0, MAX_VALUE)
        op, k = _draw_op(rng, value)
        lines.append(f"{value} {_SYMBOL[op]} {k} = {apply(op, value, k)}")
    return {"text": f"{rng.choice(_SHEET_HEADERS)}:\n" + "\n".join(lines), "kind": "sheet", "flaw": ""}


def _cut(rng: random.Random, lines: list[str]) -> str:
    """The lines as a solution cut off inside its last line, the way a document that never ended is cut.

    Never at a line's end: a flawed document that always stopped after a full line would teach the base to
    close a loop with end-of-text (a loop that ends on its own is no longer a loop the detector sees, nor
    truncated)."""
    last = lines[-1]
    # before a space: the cut-off text tokenizes as the start of the full line does (BPE pre-tokens end there),
    # as a sampled loop cut at the budget would, so the repetition detector sees the same period
    cut = rng.choice([i for i, ch in enumerate(last) if ch == " "])
    return "\n" + "\n".join(lines[:-1] + [last[:cut]])


def _problem_doc(rng: random.Random, flaws: bool) -> dict:
    start, ops = _draw_in_split(rng, "train")
    prompt = format_prompt({"question": question(start, ops)})
    lines = step_lines(start, ops)
    draw = rng.random() if flaws else 1.0
    if draw < STUCK_RATE:  # right up to step j, then that line over and over (cut mid-loop, no answer)
        j = rng.randrange(len(lines))
        body = lines[:j] + [lines[j]] * rng.randint(*LOOP_REPEATS)
        return {"text": prompt + _cut(rng, body), "kind": "problem", "flaw": "stuck", "steps": len(ops)}
    if draw < STUCK_RATE + RUNAWAY_RATE:  # every step, then invented ones (cut, no answer)
        value, extra = values(start, ops)[-1], []
        for i in range(len(ops) + 1, len(ops) + 1 + rng.randint(*RUNAWAY_STEPS)):
            op, k = _draw_op(rng, value)
            extra.append(step_line(i, op, k, value))
            value = apply(op, value, k)
        return {"text": prompt + _cut(rng, lines + extra), "kind": "problem", "flaw": "runaway", "steps": len(ops)}
    return {"text": prompt + solution(start, ops), "kind": "problem", "flaw": "", "steps": len(ops),
            "answer": str(values(start, ops)[-1])}


def _documents(n_docs: int, seed: int, stage: str) -> list[dict]:
    if n_docs < 0:
        raise ValueError(f"multistep: n_docs must be >= 0, got {n_docs}")
    rng = random.Random(f"multistep/{stage}/{seed}")
    mix = PRETRAIN_MIX if stage == "pretrain" else MIDTRAIN_MIX
    kinds, weights = list(mix), list(mix.values())
    docs = []
    for _ in range(n_docs):
        if rng.choices(kinds, weights)[0] == "problem":
            docs.append(_problem_doc(rng, flaws=stage == "pretrain"))
        else:
            docs.append(_sheet_doc(rng))
    return docs


def pretrain_documents(n_docs: int, seed: int) -> list[dict]:
    """Base-stage documents with their provenance: kind ("problem" | "sheet") and flaw ("", "stuck", "runaway")."""
    return _documents(n_docs, seed, "pretrain")


def midtrain_documents(n_docs: int, seed: int) -> list[dict]:
    """Midtraining documents: clean worked problems and practice sheets."""
    return _documents(n_docs, seed, "midtrain")


def pretrain_corpus(n_docs: int, seed: int) -> list[str]:
    """Texts of the base stage (see the module docstring for its designed flaws)."""
    return [d["text"] for d in pretrain_documents(n_docs, seed)]


def midtrain_corpus(n_docs: int, seed: int) -> list[str]:
    """Texts of the clean midtraining stage."""
    return [d["text"] for d in midtrain_documents(n_docs, seed)]
