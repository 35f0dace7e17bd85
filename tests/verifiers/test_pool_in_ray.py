"""The pool's hard timeout holds inside a Ray actor (not the main thread of a plain script)."""
import time

import pytest

ray = pytest.importorskip("ray")


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_pool_inside_a_ray_actor_times_out_a_blowup():
    # Another test in this worker process may have started Ray already: reuse it then.
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        @ray.remote(num_cpus=0)
        class Scorer:
            def __init__(self):
                from verifiers.pool import VerifierPool

                self.pool = VerifierPool(num_workers=1, timeout_s=3.0)

            def score(self, rows):
                from verifiers.pool import ScoreItem

                start = time.monotonic()
                results = self.pool.score([ScoreItem(*row) for row in rows])
                return [(r.reward, r.error) for r in results], time.monotonic() - start

        scorer = Scorer.remote()
        warm, _ = ray.get(scorer.score.remote([("math", "\\boxed{2}", "2")]), timeout=180)
        assert warm == [(1.0, None)]
        results, elapsed = ray.get(scorer.score.remote([("math", "\\boxed{9^{9^{9^9}}}", "5"),
                                                        ("random", "x", None, "p")]), timeout=180)
        assert results[0][0] == 0.0 and "timed out" in results[0][1]
        assert results[1][1] is None
        assert elapsed < 10
    finally:
        if started:
            ray.shutdown()
