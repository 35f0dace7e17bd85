import itertools
import queue

import pytest

from rlvr.rollout.streaming import GroupStream, admissible
from rlvr.types import Group, GroupRequest


_UIDS = itertools.count()


def _group(step: int, version: int, pid: str = "p", uid: int | None = None) -> Group:
    req = GroupRequest(prompt_id=pid, prompt="q", prompt_ids=[1], ground_truth="1", verifier="math", step=step,
                       n=1, max_tokens=4, uid=next(_UIDS) if uid is None else uid)
    return Group(request=req, samples=[], version=version)


def test_admissible_bound():
    assert admissible(3, 3, 0)
    assert not admissible(3, 2, 0)
    assert admissible(3, 2, 1)
    assert not admissible(3, 1, 1)
    assert admissible(5, 1, 4)
    assert not admissible(2, 3, 4)  # a version from the future is a bug, not a fresh group


def test_stream_drops_stale_and_buffers_later_steps():
    q: queue.Queue = queue.Queue()
    stream = GroupStream(q, async_steps=1, timeout_s=2)
    q.put(_group(step=2, version=0, pid="stale"))  # 2 - 0 > 1: dropped
    q.put(_group(step=3, version=2, pid="later"))  # another step: buffered
    q.put(_group(step=2, version=1, pid="ok"))
    got = list(stream.arrivals(2, expected=2))
    assert [g.request.prompt_id for g in got] == ["ok"]  # only admissible groups are handed out
    assert stream.stale_dropped == 1
    later = list(stream.arrivals(3, expected=1))
    assert [g.request.prompt_id for g in later] == ["later"]


def test_stream_times_out_with_clear_error():
    stream = GroupStream(queue.Queue(), async_steps=1, timeout_s=0.3)
    with pytest.raises(TimeoutError, match="no prompt group arrived"):
        list(stream.arrivals(0, expected=1))


def test_a_dead_producer_ends_the_wait():
    def check():
        raise RuntimeError("engine 0 died")

    stream = GroupStream(queue.Queue(), async_steps=1, timeout_s=30, poll_s=0.05)
    with pytest.raises(RuntimeError, match="engine 0 died"):
        list(stream.arrivals(0, expected=1, check=check))


def test_a_group_sampled_again_is_dropped_by_uid():
    # A restarted engine samples again every group its dead predecessor owed, delivered ones included.
    q: queue.Queue = queue.Queue()
    stream = GroupStream(q, async_steps=1, timeout_s=2)
    q.put(_group(step=1, version=0, pid="a", uid=10))
    q.put(_group(step=2, version=1, pid="later", uid=12))  # buffered for step 2
    q.put(_group(step=1, version=1, pid="a-again", uid=10))  # the restart's copy of uid 10: dropped
    q.put(_group(step=2, version=1, pid="later-again", uid=12))  # a copy of a buffered group: dropped
    q.put(_group(step=1, version=1, pid="b", uid=11))
    assert [g.request.prompt_id for g in stream.arrivals(1, expected=2)] == ["a", "b"]
    q.put(_group(step=2, version=1, pid="c", uid=13))
    assert [g.request.prompt_id for g in stream.arrivals(2, expected=2)] == ["later", "c"]
    assert stream.duplicates == 2
