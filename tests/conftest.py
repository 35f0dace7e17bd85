import os

# Keep test runs from filling the user's cache and from fighting over threads.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Tests that start Ray clusters, vLLM engines or FSDP workers run in two xdist groups ("ray", "ray2"), one per
# worker with `--dist loadgroup`: two such runs at once fit this 2-core, 24 GiB machine (each starts its own
# local cluster); more would starve Ray's 30 s node start-up. The groups are balanced by measured CI seconds
# (2026-11-28, idle: "ray" ~1,300 s, "ray2" ~1,350 s): move a file between them when one outgrows the other.

import sys

import pytest


@pytest.fixture(autouse=True, scope="module")
def _no_ray_left_behind():
    """Stop a Ray cluster a test module started in this pytest process (the recipe stages start one in-process),
    so the next module in the same xdist worker starts from a clean process tree."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
