"""The pure parts of in-flight updates (rlvr/rollout/inflight.py): the call gate's order and hand-over, switch
points, and the stitching of resubmitted pieces. No vLLM: threads stand in for a threaded actor's calls."""
import pickle
import threading
import time

import pytest

from rlvr.rollout.inflight import Gate, Partial, Ticket, cut_at_stop, first_stop, oldest, record_switch
from rlvr.types import Group, GroupRequest, Sample, oldest_version


def _run(fn, *args, **kwargs):
    t = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
    t.start()
    return t


def test_weight_update_runs_between_steps_of_a_generating_loop():
    gate = Gate()
    log = []
    stop = threading.Event()

    def loop():
        with gate.use(Ticket("use", 0), loop=True):
            for step in range(1000):
                if gate.between_steps():
                    log.append(("switch before step", step))
                log.append(("step", step))
                if stop.is_set():
                    return
                time.sleep(0.002)

    t = _run(loop)
    while not log:
        time.sleep(0.001)
    result = gate.weights(Ticket("weights", 0), lambda: log.append(("load",)) or "loaded")
    stop.set()
    t.join(5)
    assert result == "loaded" and not t.is_alive()
    i = log.index(("load",))
    # the load ran inside the loop, between two steps: the loop saw it before its next step
    assert log[i - 1][0] == "step" and log[i + 1][0] == "switch before step"
    assert gate.weights_done == 1 and gate.busy == ""


def test_weight_update_runs_at_once_when_nothing_generates():
    gate = Gate()
    assert gate.weights(Ticket("weights", 0), lambda: 7) == 7
    assert gate.weights(None, lambda: 8) == 8  # a direct call: no order
    assert gate.weights_done == 1


def test_calls_wait_for_the_weights_issued_before_them_and_keep_their_lane_order():
    """Issued: use0, weights0, use1 (after weights0); they arrive in reverse, as a threaded actor may start them."""
    gate = Gate()
    log = []

    def use1():
        with gate.use(Ticket("use", 1, after=1)):
            log.append("use1")

    t1 = _run(use1)
    release = threading.Event()
    tw = _run(gate.weights, Ticket("weights", 0), lambda: (release.wait(5), log.append("weights0")))
    time.sleep(0.05)
    assert log == [] and gate.busy == "exclusive"  # the update took the idle engine; use1 waits for use0
    release.set()
    tw.join(5)
    time.sleep(0.05)
    assert log == ["weights0"]  # use1 still waits: use0 has not started
    with gate.use(Ticket("use", 0)):  # it runs on the newer weights: an update may overtake generation not started
        log.append("use0")
    t1.join(5)
    assert log == ["weights0", "use0", "use1"] and gate.uses_started == 2 and gate.weights_done == 1


def test_an_update_handed_over_after_the_last_step_still_runs():
    """The loop ends right after taking the gate's hand-over: the update runs at its close, never waits forever."""
    gate = Gate()
    entered = threading.Event()
    release = threading.Event()

    def loop():
        with gate.use(None, loop=True):
            entered.set()
            release.wait(5)  # no between_steps call after the update arrives

    t = _run(loop)
    entered.wait(5)
    out = []
    tw = _run(lambda: out.append(gate.weights(None, lambda: "late")))
    time.sleep(0.05)
    assert out == []
    release.set()
    t.join(5)
    tw.join(5)
    assert out == ["late"] and gate.busy == ""


def test_a_failing_update_raises_in_the_update_call_and_the_loop_goes_on():
    gate = Gate()
    errors, steps = [], []
    stop = threading.Event()

    def loop():
        with gate.use(None, loop=True):
            while not stop.is_set():
                gate.between_steps()
                steps.append(1)
                time.sleep(0.002)

    t = _run(loop)
    while not steps:
        time.sleep(0.001)
    with pytest.raises(RuntimeError, match="receiver died"):
        gate.weights(None, lambda: (_ for _ in ()).throw(RuntimeError("receiver died")))
    n = len(steps)
    time.sleep(0.02)
    stop.set()
    t.join(5)
    assert len(steps) > n  # the loop kept stepping


def test_a_generating_call_joins_the_running_loop_once_its_weights_landed_in_flight():
    """Issued: use0 (a loop), weights0, use1 (after weights0, joinable), use2 (exclusive, an evaluation). use1
    joins use0's loop as soon as weights0 ran between two of its steps; use2 waits until both have left."""
    gate = Gate()
    log = []
    leave0 = threading.Event()

    def loop0():
        with gate.use(Ticket("use", 0), loop=True, join=True) as joined:
            log.append(("use0 in", joined))
            while not leave0.is_set():
                gate.between_steps()
                time.sleep(0.002)
        log.append(("use0 out",))

    def use1():
        with gate.use(Ticket("use", 1, after=1), loop=True, join=True) as joined:
            log.append(("use1 in", joined, gate.weights_done))
            leave0.set()  # the loop's first caller leaves; use1 still holds the loop
            time.sleep(0.05)
            log.append(("use1 out", gate.busy))

    def use2():
        with gate.use(Ticket("use", 2, after=1)):
            log.append(("use2 in", gate.busy, gate.loopers))

    threads = [_run(use2), _run(use1), _run(loop0)]
    while not log:
        time.sleep(0.001)
    assert log == [("use0 in", False)]  # use1 cannot join before the weights it was issued after
    gate.weights(Ticket("weights", 0), lambda: log.append(("load",)))
    for t in threads:
        t.join(5)
    assert [e[0] for e in log] == ["use0 in", "load", "use1 in", "use0 out", "use1 out", "use2 in"]
    assert log[2] == ("use1 in", True, 1)  # joined the running loop, on the new weights
    assert log[4] == ("use1 out", "loop")  # the loop ran on after its first caller left
    assert log[5] == ("use2 in", "exclusive", 0)  # the evaluation never shares the loop
    assert gate.busy == "" and gate.loopers == 0 and gate.uses_started == 3


def test_a_loop_started_without_join_makes_a_joining_call_wait_for_its_end():
    gate = Gate()
    log = []
    inside = threading.Event()
    leave = threading.Event()

    def loop0():
        with gate.use(None, loop=True):  # in-flight updates off: nothing joins this loop
            inside.set()
            leave.wait(5)
            log.append("use0 out")

    def use1():
        with gate.use(None, loop=True, join=True) as joined:
            log.append(("use1 in", joined))

    t = _run(loop0)
    inside.wait(5)
    t1 = _run(use1)
    time.sleep(0.05)
    assert log == [] and gate.loopers == 1
    leave.set()
    t.join(5)
    t1.join(5)
    assert log == ["use0 out", ("use1 in", False)] and gate.busy == "" and gate.loopers == 0


def test_record_switch():
    v = ((0, 3),)
    assert record_switch(v, 5, 4, fresh_kv=False) == ((0, 3), (5, 4))
    assert record_switch(v, 5, 4, fresh_kv=True) == ((0, 3), (5, 4))  # its tokens 0..4 came from version 3
    assert record_switch(v, 0, 4, fresh_kv=True) == ((0, 4),)  # resubmitted before its first token: all new
    assert record_switch(v, 0, 4, fresh_kv=False) == ((0, 3), (0, 4))  # keep: its prompt's KV is version 3's
    assert record_switch(((0, 3), (5, 4)), 9, 4, fresh_kv=False) == ((0, 3), (5, 4))  # same version again
    assert oldest(((0, 3), (5, 4), (9, 6)), 0) == 3 and oldest((), 7) == 7


def test_partial_continuation_and_budget():
    p = Partial(prompt_ids=[1, 2], max_tokens=10, versions=((0, 0),))
    p.absorb([5, 6, 7], [-0.1, -0.2, -0.3])
    assert p.continuation() == ([1, 2, 5, 6, 7], 7) and p.pieces == 2
    p.absorb([8], [-0.4])
    assert p.continuation() == ([1, 2, 5, 6, 7, 8], 6) and p.logprobs == [-0.1, -0.2, -0.3, -0.4]


def _decode(ids):
    return "".join(chr(i) for i in ids)


def test_stop_string_straddling_two_pieces_is_cut_where_it_completes():
    # piece 1 ended with "Ans", piece 2 continued "wer: 4 more": the response must stop at "Answer"
    tokens = [ord(c) for c in "x = 4. Answer: 4 more"]
    text = _decode(tokens)
    kept, body = cut_at_stop(tokens, text, ["Answer", "\n\n"], _decode)
    assert body == "x = 4. " and _decode(tokens[:kept]) == "x = 4. Answer"


def test_stop_that_completes_first_wins_and_no_stop_means_no_cut():
    assert first_stop("ab STOP cd END", ["END", "STOP"]) == (3, 7)
    assert first_stop("xEND", ["ND", "END"]) == (2, 4)  # same end: the first listed, as vLLM checks them
    assert cut_at_stop([ord(c) for c in "no stop here"], "no stop here", ["Answer"], _decode) is None


def test_multi_char_tokens_keep_the_stop_strings_tokens():
    vocab = {1: "The sum", 2: " is 7.", 3: " Ans", 4: "wer", 5: ": 7"}

    def decode(ids):
        return "".join(vocab[i] for i in ids)

    tokens = [1, 2, 3, 4, 5]
    kept, body = cut_at_stop(tokens, decode(tokens), ["Answer"], decode)
    assert kept == 4 and body == "The sum is 7. "


def test_samples_pickled_before_versions_existed_load_with_an_empty_history():
    s = Sample(prompt_id="p", prompt_ids=[1], response_ids=[2], response_text="x", rollout_logprobs=[-1.0],
               finish_reason="stop")
    state = dict(s.__dict__)
    del state["versions"]
    old = Sample.__new__(Sample)
    old.__dict__.update(state)  # what unpickling an old checkpoint's Sample makes
    again = pickle.loads(pickle.dumps(old))
    assert again.versions == () and not again.switched
    req = GroupRequest(prompt_id="p", prompt="q", prompt_ids=[1], ground_truth="1", verifier="math", step=0, n=1,
                       max_tokens=4)
    assert Group(request=req, samples=[again], version=5).version == 5
    assert oldest_version([again], 5) == 5


def test_group_version_is_the_oldest_any_sample_used():
    def sample(versions):
        return Sample(prompt_id="p", prompt_ids=[1], response_ids=[2, 3], response_text="x",
                      rollout_logprobs=[-1.0, -1.0], finish_reason="stop", versions=versions)

    samples = [sample(((0, 4),)), sample(((0, 3), (1, 4)))]
    assert oldest_version(samples, 9) == 3
    assert samples[1].switched and not samples[0].switched
