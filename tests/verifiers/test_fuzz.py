"""Every built-in verifier under seeded hostile input (tests/verifiers/fuzz_inputs.py) in the real pool:
each item comes back within the pool's timeout with a reward in [0, 1] or an error, no worker or helper
process leaks, and the pool keeps its size. bench/verifier_fuzz.py runs thousands per verifier and prints
items/s and the worst latency. Below: one regression test per defect the fuzzing found."""
import math
import time

import psutil
import pytest

from tests.verifiers.fuzz_inputs import BUILTIN_VERIFIERS, hostile_items
from verifiers.pool import VerifierPool

ITEMS = {"math": 100, "code": 100, "ifeval": 300, "random": 300, "format": 300}  # the bench runs thousands
TIMEOUT_S = 10.0  # the pool's per-item limit: rlvr's default reward.timeout_s
CODE = {"code": {"cpu_time_s": 1.0, "wall_time_s": 2.0, "parallel": 1}}  # a hostile program fails fast


_BEFORE: set[int] = set()  # descendants this pytest process had before the pool (a tracker's service, say)


def _descendants() -> list[psutil.Process]:
    """Live descendants started since the pool's fixture began, less multiprocessing's resource tracker
    (one per interpreter, not the pool's)."""
    procs = []
    for p in psutil.Process().children(recursive=True):
        try:
            if (p.pid not in _BEFORE and p.status() != psutil.STATUS_ZOMBIE
                    and "resource_tracker" not in " ".join(p.cmdline())):
                procs.append(p)
        except psutil.NoSuchProcess:
            continue
    return procs


def _settled(limit: int, timeout_s: float = 15.0) -> list[psutil.Process]:
    """The live descendants once at most `limit` remain (killed workers' helpers take a moment to go)."""
    end = time.time() + timeout_s
    procs = _descendants()
    while len(procs) > limit and time.time() < end:
        time.sleep(0.2)
        procs = _descendants()
    return procs


@pytest.fixture(scope="module")
def pool():
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in psutil.Process().children(recursive=True))
    with VerifierPool(2, timeout_s=TIMEOUT_S, verifier_options=CODE) as p:
        yield p
    assert _settled(0) == []  # close() leaves no process behind


@pytest.mark.slow  # minutes of worker and helper restarts (math's helper is killed on every stage timeout)
@pytest.mark.parametrize("verifier", BUILTIN_VERIFIERS)
def test_hostile_inputs_get_a_reward_or_an_error_in_time(pool, verifier):
    items = hostile_items(verifier, ITEMS[verifier], seed=0)
    results = pool.score(items)
    assert len(results) == len(items)
    for item, result, took in zip(items, results, pool.latencies):
        if result.error is None:
            assert isinstance(result.reward, float) and math.isfinite(result.reward) and 0.0 <= result.reward <= 1.0
        else:
            assert result.reward == 0.0 and isinstance(result.error, str) and result.error
        assert took is not None and took < TIMEOUT_S + 2.0, (item.response[:100], result.error)
    # the pool keeps its size, every worker alive; per worker at most one helper (the math one) remains
    assert len(pool._workers) == pool.num_workers
    assert all(w.process.is_alive() for w in pool._workers)
    workers = {w.process.pid for w in pool._workers}
    left = _settled(2 * pool.num_workers)
    assert len(left) <= 2 * pool.num_workers, [p.cmdline()[:3] for p in left]
    assert all(p.pid in workers or p.ppid() in workers for p in left)


def test_the_items_are_the_same_for_the_same_seed():
    a, b = hostile_items("ifeval", 30, seed=3), hostile_items("ifeval", 30, seed=3)
    assert [(i.response, repr(i.ground_truth)) for i in a] == [(i.response, repr(i.ground_truth)) for i in b]
    assert [i.response for i in hostile_items("ifeval", 30, seed=4)] != [i.response for i in a]


# ---------------------------------------------------------------- regressions found by the fuzzing
def test_a_line_of_stars_is_scanned_in_linear_time():
    # "Answer:" lines were matched with two star-eating quantifiers: 5,000 stars took 7 s, 20,000 took 145 s
    from verifiers.math import MathVerifier
    from verifiers.math.extract import _ANSWER_LINE

    started = time.time()
    assert list(_ANSWER_LINE.finditer("*" * 20_000)) == []
    assert _ANSWER_LINE.search("** Final answer:** 12").group(1) == "12"  # stars before the label still read
    result = MathVerifier(isolate=False)("*" * 2**20, "50%")
    assert time.time() - started < 5.0 and result.reward == 0.0 and result.error is None


def test_the_same_final_answer_repeated_is_parsed_once(monkeypatch):
    # 200,000 "Answer: 1" lines were parsed one by one (timed out); now each distinct string once
    from verifiers.math import cascade

    cascade._parse_gold.cache_clear()  # golds are cached per process: another test may have parsed "1"
    calls = []
    real = cascade.parse_answer
    monkeypatch.setattr(cascade, "parse_answer", lambda a, **kw: calls.append(a) or real(a, **kw))
    result = cascade.MathVerifier(isolate=False)("Answer: 1\n" * 200_000, "1")
    assert result.reward == 1.0 and calls == ["1", "1"]  # the gold, then the answer


def test_random_scores_a_lone_surrogate():
    from verifiers.random_reward import RandomVerifier

    first = RandomVerifier(p=0.5)("x", None, prompt="\ud800 prompt", metadata={"sample_id": "\udfff"})
    again = RandomVerifier(p=0.5)("x", None, prompt="\ud800 prompt", metadata={"sample_id": "\udfff"})
    assert first.error is None and first.reward in (0.0, 1.0) and first.reward == again.reward


def test_code_names_a_bytes_ground_truth_that_is_not_utf8():
    from verifiers.code import CodeVerifier

    result = CodeVerifier(parallel=1)("```python\nprint(1)\n```", b"\xff\xfe")
    assert result.reward == 0.0 and result.error.startswith("code ground_truth is bytes but not UTF-8")


def test_ifeval_loads_its_language_profiles_at_warmup():
    # the first language item in each worker paid seconds of profile loading and could time out
    from verifiers.ifeval import IFEvalVerifier
    from verifiers.ifeval.text import _language_factory

    _language_factory.cache_clear()
    IFEvalVerifier().warmup()
    assert _language_factory.cache_info().currsize == 1


def test_person_names_are_counted_in_one_pass():
    # one regex search per name over a megabyte response took 15 s; the same verdicts in one pass
    from verifiers.ifeval.ifbench_words import PERSON_NAMES, person_names

    name = PERSON_NAMES[0]
    assert person_names(f"{name} met {PERSON_NAMES[1]}'s friend.", N=2)
    assert not person_names(f"{name}{name} and x{PERSON_NAMES[1]}", N=1)  # only whole words count
    started = time.time()
    assert not person_names("*" * 2**21, N=1)
    assert time.time() - started < 5.0
