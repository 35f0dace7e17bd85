"""VerifierPool: order, isolation of raising/hanging/crashing verifiers, timeouts, threads."""
import threading
import time
from pathlib import Path

import pytest

from verifiers.pool import ScoreItem, VerifierPool, coerce_result
from verifiers.base import VerifierResult

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def pool():
    # Workers are fresh interpreters: they find the test verifiers through import_modules,
    # and the module through this directory on sys.path (inherited at spawn).
    import sys

    sys.path.insert(0, str(HERE))
    try:
        with VerifierPool(num_workers=2, timeout_s=1.0, import_modules=["pool_test_verifiers"]) as p:
            yield p
    finally:
        sys.path.remove(str(HERE))


def test_results_keep_input_order(pool):
    items = [ScoreItem("test_echo", str(i), str(i if i % 3 else -1)) for i in range(30)]
    results = pool.score(items)
    assert [r.reward for r in results] == [0.0 if i % 3 == 0 else 1.0 for i in range(30)]
    assert all(r.error is None and r.details["pid"] > 0 for r in results)


def test_prompt_and_metadata_reach_the_verifier(pool):
    (r,) = pool.score([ScoreItem("test_echo", "a", "a", prompt="p?", metadata={"sample_id": 7})])
    assert r.details["prompt"] == "p?" and r.details["metadata"] == {"sample_id": 7}


def test_raising_verifier_fails_only_its_item(pool):
    results = pool.score([ScoreItem("test_echo", "x", "x"), ScoreItem("test_raises", "boom", ""),
                          ScoreItem("test_echo", "y", "y")])
    assert [r.reward for r in results] == [1.0, 0.0, 1.0]
    assert "RuntimeError" in results[1].error and "boom" in results[1].error


def test_hanging_verifier_is_killed_and_replaced(pool):
    before = pool.replaced_workers
    start = time.monotonic()
    results = pool.score([ScoreItem("test_hangs", "", ""), ScoreItem("test_echo", "a", "a"),
                          ScoreItem("test_echo", "b", "c")])
    elapsed = time.monotonic() - start
    assert results[0].reward == 0 and "timed out after 1s" in results[0].error
    assert [r.reward for r in results[1:]] == [1.0, 0.0]
    assert pool.replaced_workers == before + 1
    assert elapsed < 8  # 1 s timeout plus a replacement worker, not a hang
    assert pool.score([ScoreItem("test_echo", "z", "z")])[0].reward == 1.0  # still usable


def test_crashing_worker_fails_only_its_item(pool):
    results = pool.score([ScoreItem("test_crash", "", ""), ScoreItem("test_echo", "a", "a")])
    assert "died while scoring (exit code 3)" in results[0].error
    assert results[1].reward == 1.0


def test_bad_return_values(pool):
    bad, good, wrong = pool.score([ScoreItem("test_bad_reward", "", ""), ScoreItem("test_bool", "a", "a"),
                                   ScoreItem("test_bool", "a", "b")])
    assert "outside [0, 1]" in bad.error and bad.reward == 0
    assert (good.reward, good.correct, wrong.reward) == (1.0, True, 0.0)


def test_unknown_verifier_and_bad_items_do_not_stop_the_batch(pool):
    results = pool.score([ScoreItem("no_such_verifier", "a", "a"), ScoreItem("test_echo", 5, "a"),
                          "not an item", ScoreItem("test_echo", "a", "a")])
    assert "unknown verifier 'no_such_verifier'" in results[0].error
    assert "field 'response' must be a string" in results[1].error
    assert "expected ScoreItem" in results[2].error
    assert results[3].reward == 1.0


def test_pool_scores_from_a_non_main_thread(pool):
    out = {}
    worker = threading.Thread(target=lambda: out.update(r=pool.score([ScoreItem("test_echo", "q", "q"),
                                                                      ScoreItem("test_hangs", "", "")])))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert out["r"][0].reward == 1.0 and "timed out" in out["r"][1].error


def test_empty_batch(pool):
    assert pool.score([]) == []


def test_closed_pool_refuses_work():
    p = VerifierPool(num_workers=1)
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.score([ScoreItem("random", "", None)])


@pytest.mark.parametrize("kwargs", [{"num_workers": 0}, {"timeout_s": 0}])
def test_bad_pool_arguments(kwargs):
    with pytest.raises(ValueError):
        VerifierPool(**kwargs)


def test_coerce_result():
    assert coerce_result(True, "x").reward == 1.0
    assert coerce_result(0.25, "x").correct is False
    with pytest.raises(TypeError):
        coerce_result("1", "x")
    with pytest.raises(ValueError):
        coerce_result(VerifierResult(reward=float("nan"), correct=False), "x")
