"""The hand-over from engines to learner: a queue of finished groups with a staleness bound.

A group sampled with policy version v may be used at training step t only if
t - v <= async_steps; v is the oldest version any of its tokens used (weights may change while a group
is sampled: rollout.inflight_updates). Groups arrive in any order and for any step; those for later steps wait
in a buffer, stale ones are dropped and counted. A group whose request uid has come before is dropped
too: a restarted engine samples again every group its dead predecessor owed, some of which it had
already delivered (rlvr/rollout/engines.py).
"""
from __future__ import annotations

import queue as _queue
import time
from typing import Any, Callable, Iterator

from rlvr.types import Group


def admissible(step: int, version: int, async_steps: int) -> bool:
    """Whether a group sampled at policy `version` may train step `step`."""
    return 0 <= step - version <= async_steps


class GroupStream:
    def __init__(self, source: Any, async_steps: int, timeout_s: float = 1800.0, poll_s: float = 2.0):
        """`source` has `get(block=True, timeout=...)` (a ray.util.queue.Queue or queue.Queue)."""
        self.source = source
        self.poll_s = poll_s
        self.async_steps = async_steps
        self.timeout_s = timeout_s
        self.buffer: dict[int, list[Group]] = {}
        self.stale_dropped = 0
        self.uids: set[int] = set()  # request uids received so far
        self.duplicates = 0  # groups dropped because their uid came before

    def _pull(self, deadline: float, check: Callable[[], None] | None) -> Group:
        """The next group; polls so that a dead engine (`check` raises) ends the wait at once."""
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TimeoutError(f"no prompt group arrived from the engines in {self.timeout_s:.0f}s")
            try:
                return self.source.get(block=True, timeout=min(self.poll_s, max(0.01, remaining)))
            except _queue.Empty:  # ray.util.queue.Empty subclasses it
                if check is not None:
                    check()

    def arrivals(self, step: int, expected: int, check: Callable[[], None] | None = None) -> Iterator[Group]:
        """Yield the admissible groups drawn for `step` in arrival order until `expected` have arrived.

        Groups buffered earlier for `step` come first; stale ones are counted and dropped. A generator, so
        the trainer scores each group while the engines are still sampling the rest.
        """
        seen = 0
        for g in self.buffer.pop(step, []):
            seen += 1
            if self._admit(g, step):
                yield g
        deadline = time.time() + self.timeout_s
        while seen < expected:
            g = self._pull(deadline, check)
            if g.request.uid in self.uids:
                self.duplicates += 1
                continue
            self.uids.add(g.request.uid)
            if g.step != step:
                self.buffer.setdefault(g.step, []).append(g)
                continue
            seen += 1
            if self._admit(g, step):
                yield g

    def _admit(self, g: Group, step: int) -> bool:
        if not admissible(step, g.version, self.async_steps):
            self.stale_dropped += 1
            return False
        return True
