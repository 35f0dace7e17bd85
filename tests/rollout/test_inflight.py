"""In-flight weight updates on real parts: threaded vLLM engines on Ray, the FSDP learner, both transports.

A learner step is taken first, then a long generation is dispatched and the new weights are sent while it
runs. Samples active at the switch must record it; with `resubmit` every token after the switch must match
the new learner's log-probs; with `keep` the switch is recorded and the generation finishes. Every wait has
a timeout, so a deadlock fails the test instead of hanging it.
"""
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TIMEOUT_S = 300  # any single wait: a deadlock shows as a timeout


# resubmit with two engines, one of them idle during the switch: a collective broadcast needs both at once
@pytest.fixture(scope="module", params=[("resubmit", 2), ("keep", 1)], ids=["resubmit", "keep"])
def stack(request, tmp_path_factory):
    import ray

    from rlvr.config import LearnerConfig, RolloutConfig
    from rlvr.learner.group import LearnerGroup
    from rlvr.placement import init_ray
    from rlvr.rollout.engines import EnginePool
    from rlvr.rollout.weight_sync import CollectiveSync, ObjectStoreSync
    from tests.tiny import make_tiny_checkpoint

    mode, num_engines = request.param
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))
    init_ray(needed_cpus=2 + num_engines)
    engines = EnginePool(path, RolloutConfig(num_engines=num_engines, kv_cache_gb=1, max_model_len=160,
                                             inflight_updates=mode), seed=0)
    learner = LearnerGroup(path, LearnerConfig(num_workers=2, lr=2e-2, grad_clip=0.0, warmup_steps=0), seed=0,
                           total_steps=8)
    transports = {"object_store": ObjectStoreSync(engines, learner),
                  "collective": CollectiveSync(engines, learner, bucket_mb=0.1, timeout_s=60)}
    yield mode, path, engines, learner, transports, [0]
    learner.shutdown()
    engines.shutdown()
    ray.shutdown()


def _requests(path, n, max_tokens, prompts):
    from transformers import AutoTokenizer

    from rlvr.types import GroupRequest

    tok = AutoTokenizer.from_pretrained(path)
    return [GroupRequest(prompt_id=str(i), prompt=p, prompt_ids=tok(p)["input_ids"], ground_truth="1",
                         verifier="math", step=0, n=n, max_tokens=max_tokens, uid=i) for i, p in enumerate(prompts)]


def _groups(engines, q, refs, count):
    import ray

    stats = ray.get(refs, timeout=TIMEOUT_S)
    return [q.get(timeout=TIMEOUT_S) for _ in range(count)], stats


def _learner_step(stack):
    """One learner step on freshly sampled groups (no sync): the learner moves one version ahead."""
    from ray.util.queue import Queue

    from rlvr.algorithms.config import AlgorithmConfig
    from rlvr.learner.batching import count_loss_tokens, policy_shards
    from rlvr.learner.objectives import PolicyStep, policy_objective

    _, path, engines, learner, _, version = stack
    q = Queue()
    reqs = _requests(path, 3, 12, ["Question: 3 + 4", "Ava has 2"])
    groups, _ = _groups(engines, q, engines.dispatch(reqs, [], q), len(reqs))
    samples = [s for g in groups for s in g.samples]
    shards = policy_shards(samples, [1.0 if i % 2 else -1.0 for i in range(len(samples))], 2, 4, pad_id=0)
    tokens, seqs = count_loss_tokens(shards)
    ctx = PolicyStep(algorithm=AlgorithmConfig(), eps_low=0.2, eps_high=0.272, global_tokens=tokens,
                     global_seqs=seqs, agg_constant=12.0, temperature=1.0)
    learner.train_step(shards, policy_objective, ctx)
    version[0] += 1


def _learner_logprobs(learner, samples):
    from rlvr.trainer import Trainer

    fake = Trainer.__new__(Trainer)  # only the probe helper, no full trainer
    fake.learner, fake.pad_id = learner, 0
    return fake._learner_probe(samples)


@pytest.mark.parametrize("transport", ["object_store", "collective"])
def test_weights_switch_in_flight(stack, transport):
    import ray
    from ray.util.queue import Queue

    mode, path, engines, learner, transports, version = stack
    _learner_step(stack)
    new = version[0]
    old = new - 1
    # One prompt: it goes to engine 0 alone; with two engines engine 1 is idle and must take the broadcast at once.
    q = Queue()
    reqs = _requests(path, 4, 96, ["Question: 12 + 30"])
    first = ray.get(engines.engines[0].steps_taken.remote(), timeout=TIMEOUT_S)
    gen = engines.dispatch(reqs, [], q)
    deadline = time.time() + TIMEOUT_S
    while ray.get(engines.engines[0].steps_taken.remote(), timeout=TIMEOUT_S) < first + 8:
        assert time.time() < deadline, "generation never started"
        time.sleep(0.02)
    started = time.time()
    sync_refs, _ = transports[transport].sync(new)
    sync_stats = ray.get(sync_refs, timeout=TIMEOUT_S)
    took = time.time() - started
    (group,), (gen_stats,) = _groups(engines, q, gen, 1)
    assert all(s["load_s"] > 0 for s in sync_stats) and len(sync_stats) == engines.num_engines

    switched = [s for s in group.samples if s.switched]
    assert switched, f"no sample recorded the switch (sync took {took:.2f}s)"
    assert gen_stats["switched"] == len(switched)
    for s in group.samples:
        assert len(s.rollout_logprobs) == len(s.response_ids)
        if not s.switched:  # finished (EOS) before the weights arrived
            assert s.versions == ((0, old),) and s.finish_reason == "stop", s.versions
            continue
        (_, v0), (at, v1) = s.versions
        assert (v0, v1) == (old, new) and 0 < at < len(s.response_ids), s.versions
    assert group.version == old  # the oldest version any token used: the staleness bound holds by it

    learner_lps = _learner_logprobs(learner, switched)
    after = [abs(e - l) for s, lps in zip(switched, learner_lps)
             for e, l in zip(s.rollout_logprobs[s.versions[1][0]:], lps[s.versions[1][0]:])]
    before = [abs(e - l) for s, lps in zip(switched, learner_lps)
              for e, l in zip(s.rollout_logprobs[: s.versions[1][0]], lps[: s.versions[1][0]])]
    print(f"{mode}/{transport}: sync {took:.2f}s, {len(switched)}/{len(group.samples)} switched at "
          f"{[s.versions[1][0] for s in switched]}, gap before {sum(before) / len(before):.3g} after "
          f"{sum(after) / len(after):.3g} (max {max(after):.3g})")
    assert sum(before) / len(before) > 1e-3  # the old weights sampled these: the step moved the policy
    if mode == "resubmit":
        # fresh KV under the new weights: every token after the switch is the new policy's
        assert max(after) < 1e-3, max(after)

    # after the switch every engine holds the new weights (and engine 1 never generated)
    for i in range(engines.num_engines):
        probe = switched[:2]
        seqs = [(list(s.prompt_ids) + list(s.response_ids), len(s.prompt_ids)) for s in probe]
        engine_lps = ray.get(engines._call(i, "score", seqs), timeout=TIMEOUT_S)
        gap = max(abs(a - b) for e, l in zip(engine_lps, learner_lps[:2]) for a, b in zip(e, l))
        assert gap < 1e-3, (i, gap)


def test_calls_issued_mid_generation_join_its_loop(stack):
    """A short generate call issued while a long one runs is sampled in the long call's engine steps, so its group
    comes out first (continuous batching across calls). The log-prob probe (`score`) joins the loop under `keep`,
    returning while the long call still runs, with the values an idle engine gives; under `resubmit` it waits for
    the loop to end (a resubmission resets the prefix cache, which a running prefill would hold)."""
    import dataclasses

    import ray
    from ray.util.queue import Queue

    mode, path, engines, _, _, _ = stack
    q = Queue()
    long_reqs = _requests(path, 4, 140, ["Question: 12 + 30"])
    short_reqs = [dataclasses.replace(r, uid=100) for r in _requests(path, 2, 4, ["Ava has 2"])]
    seqs = [(list(r.prompt_ids) + [5, 6, 7, 8], len(r.prompt_ids)) for r in long_reqs + short_reqs]
    first = ray.get(engines.engines[0].steps_taken.remote(), timeout=TIMEOUT_S)
    long_refs = engines.dispatch(long_reqs, [], q)  # one request each: both calls go to engine 0
    deadline = time.time() + TIMEOUT_S
    while ray.get(engines.engines[0].steps_taken.remote(), timeout=TIMEOUT_S) < first + 4:
        assert time.time() < deadline, "generation never started"
        time.sleep(0.01)
    short_refs = engines.dispatch(short_reqs, [], q)
    score_ref = engines.score(seqs)
    out_first = q.get(timeout=TIMEOUT_S)
    assert out_first.request.uid == 100, "the short call waited for the long one instead of joining its loop"
    scores = ray.get(score_ref, timeout=TIMEOUT_S)
    long_done = bool(ray.wait(long_refs, timeout=0)[0])
    assert long_done == (mode == "resubmit"), (mode, long_done)
    (long_group,), (long_stats,) = _groups(engines, q, long_refs, 1)
    (short_stats,) = ray.get(short_refs, timeout=TIMEOUT_S)
    assert short_stats["tokens"] == sum(len(s.response_ids) for s in out_first.samples) > 0
    assert long_stats["tokens"] == sum(len(s.response_ids) for s in long_group.samples) > 0
    idle = ray.get(engines.score(seqs), timeout=TIMEOUT_S)
    assert [len(s) for s in scores] == [4, 4]
    assert max(abs(a - b) for s, t in zip(scores, idle) for a, b in zip(s, t)) < 1e-4
