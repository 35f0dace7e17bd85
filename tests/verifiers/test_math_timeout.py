"""A sympy blow-up ends within 2 s with reward 0 and the reason, on any thread and in the pool."""
import os
import threading
import time

import pytest

from verifiers.math import MathVerifier
from verifiers.pool import ScoreItem, VerifierPool

BLOWUP = "so the answer is \\boxed{9^{9^{9^9}}}"


def _assert_timed_out(result):
    assert result.reward == 0 and result.correct is False
    assert "timed out" in result.error
    assert result.details["reason"].startswith("timeout")
    assert result.details["stage"] in ("math_verify", "sympy")
    assert result.details["extracted"] == "9^{9^{9^9}}"


def test_blowup_in_the_pool_ends_within_two_seconds():
    with VerifierPool(num_workers=1, timeout_s=10.0) as pool:
        assert pool.score([ScoreItem("math", "\\boxed{2}", "2")])[0].reward == 1  # loads + warms the verifier
        # Best of three: on a loaded CI box one attempt can lose the CPU for a while.
        elapsed = []
        for _ in range(3):
            start = time.monotonic()
            (blowup,) = pool.score([ScoreItem("math", BLOWUP, "5")])
            elapsed.append(time.monotonic() - start)
            if elapsed[-1] < 2.0:
                break
        assert min(elapsed) < 2.0, elapsed
        _assert_timed_out(blowup)
        (after,) = pool.score([ScoreItem("math", "\\boxed{\\sqrt{4}}", "2")])
        assert after.reward == 1 and after.error is None  # the helper was replaced, not the worker
        assert pool.replaced_workers == 0


def test_blowup_off_the_main_thread_ends_within_two_seconds():
    verifier = MathVerifier()
    verifier.warmup()
    old_pid = verifier._helper.pid
    out = {}

    def run():
        start = time.monotonic()
        out["result"] = verifier(BLOWUP, "5")
        out["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    try:
        assert not thread.is_alive()
        if out["elapsed"] >= 2.0:  # one retry: a loaded CI box can stall any single attempt
            old_pid = verifier._helper.pid
            thread = threading.Thread(target=run)
            thread.start()
            thread.join(timeout=30)
        assert out["elapsed"] < 2.0, out
        _assert_timed_out(out["result"])
        # The stuck helper is gone, not left burning CPU.
        with pytest.raises(ProcessLookupError):
            for _ in range(50):
                os.kill(old_pid, 0)
                time.sleep(0.1)
        assert verifier("\\boxed{x+x}", "2x").reward == 1
    finally:
        verifier.close()


def test_blowup_in_the_gold_is_bounded_too():
    verifier = MathVerifier(timeout_s=0.5)
    verifier.warmup()
    try:
        start = time.monotonic()
        result = verifier("\\boxed{5}", "9^{9^{9^9}}")
        assert time.monotonic() - start < 2.0
        assert result.reward == 0 and "timed out" in result.error
    finally:
        verifier.close()
