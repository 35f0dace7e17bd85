"""Misbehaving verifiers for the pool tests, imported inside the pool's workers
(``VerifierPool(import_modules=["pool_test_verifiers"])``)."""
import os
import time

from verifiers.base import VerifierResult, register


@register("test_echo")
def echo(response, ground_truth, prompt=None, metadata=None):
    """Reward 1 when the response equals the ground truth; details carry the worker pid."""
    ok = response == ground_truth
    return VerifierResult(float(ok), ok, {"pid": os.getpid(), "prompt": prompt, "metadata": metadata})


@register("test_raises")
def raises(response, ground_truth, prompt=None, metadata=None):
    raise RuntimeError(f"cannot judge {response!r}")


@register("test_hangs")
def hangs(response, ground_truth, prompt=None, metadata=None):
    while True:  # a pure-Python busy loop: only a kill ends it
        time.sleep(0.01)


@register("test_crash")
def crash(response, ground_truth, prompt=None, metadata=None):
    os._exit(3)


@register("test_bad_reward")
def bad_reward(response, ground_truth, prompt=None, metadata=None):
    return VerifierResult(reward=1.5, correct=True)


@register("test_bool")
def plain_bool(response, ground_truth, prompt=None, metadata=None):
    return response == ground_truth
