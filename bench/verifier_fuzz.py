"""Verifier fuzzing: thousands of seeded hostile items per built-in verifier through the real pool.

    nice -n 5 python bench/verifier_fuzz.py [--items 2000] [--workers 2] [--timeout 10] [--seed 0] [--verifiers math,code]

Items come from tests/verifiers/fuzz_inputs.py (random and adversarial unicode, megabyte responses,
deeply nested LaTeX, towers of exponents, ground truths of the wrong type). Per verifier it prints
items/s (one batch through the pool, start-up excluded), the worst and the 99th-percentile latency
(hand-over to result, measured by the pool), how many items ended in an error and in a pool timeout,
and whether every result was a reward in [0, 1] or an error, no worker leaked and the pool kept its size.
Exits 1 when any of those checks fails.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from tests.verifiers.fuzz_inputs import BUILTIN_VERIFIERS, hostile_items  # noqa: E402  (after the path insert)
from verifiers.pool import VerifierPool  # noqa: E402

CODE = {"code": {"cpu_time_s": 1.0, "wall_time_s": 2.0, "parallel": 1}}


def _valid(result) -> bool:
    if result.error is not None:
        return result.reward == 0.0
    return isinstance(result.reward, float) and math.isfinite(result.reward) and 0.0 <= result.reward <= 1.0


def _descendants() -> int:
    """Live descendants, less multiprocessing's resource tracker (one per interpreter, not the pool's)."""
    return sum(p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())
               for p in psutil.Process().children(recursive=True))


def run(verifier: str, pool: VerifierPool, items: int, seed: int) -> bool:
    batch = hostile_items(verifier, items, seed)
    pool.score(batch[:1])  # load the verifier in a worker first: its start-up is not scoring
    started = time.perf_counter()
    results = pool.score(batch)
    took = time.perf_counter() - started
    latencies = sorted(x for x in pool.latencies if x is not None)
    timeouts = sum("timed out after" in (r.error or "") and "worker killed" in (r.error or "") for r in results)
    errors = sum(r.error is not None for r in results)
    time.sleep(1.0)  # let killed workers' helpers go
    ok = (all(_valid(r) for r in results) and len(pool._workers) == pool.num_workers
          and all(w.process.is_alive() for w in pool._workers) and _descendants() <= 2 * pool.num_workers)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(f"{verifier:7s} {items:6d} items  {items / took:8.1f} items/s  worst {latencies[-1]:6.2f}s  p99 {p99:6.2f}s  "
          f"errors {errors:5d}  pool timeouts {timeouts:3d}  {'ok' if ok else 'FAILED'}", flush=True)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0, help="the pool's per-item limit (reward.timeout_s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verifiers", default=",".join(BUILTIN_VERIFIERS))
    args = ap.parse_args()
    ok = True
    with VerifierPool(args.workers, timeout_s=args.timeout, verifier_options=CODE) as pool:
        for name in args.verifiers.split(","):
            ok &= run(name, pool, args.items, args.seed)
    time.sleep(2.0)
    left = _descendants()
    print(f"after close: {left} processes left")
    return 0 if ok and left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
