"""In-flight weight updates (`rollout.inflight_updates=keep|resubmit`): an engine's call gate and the
bookkeeping of requests whose policy changes while they are sampled.

With in-flight updates an engine is a threaded Ray actor, so a weight update can arrive while a
`generate_groups` call steps vLLM. The `Gate` keeps vLLM to one thread and orders the calls:

* a call that drives vLLM (generation, scoring, evaluation) holds the gate for its whole run, one at a time;
* a weight update runs at once when nothing drives vLLM, else it is handed to the generating loop, which
  runs it between two engine steps (never during a forward pass) and the update call waits for that;
* calls carry `Ticket`s from the engine pool, because a threaded actor may start calls out of the order they
  were issued: weight updates apply in issue order, and a call issued after a weight update runs on those
  weights or newer (the lookahead's staleness bound rests on this), while a weight update may overtake
  generation that has not started yet (it only makes that generation fresher).
* a generating call whose turn comes while another generating loop runs may join that loop instead of
  waiting for it to end (`join`): its requests are added between two engine steps and sampled alongside the
  running ones, so the long tail of one step's responses shares its engine steps with the next step's
  (continuous batching across calls). One call's thread at a time steps vLLM (the engine's wheel, handed on
  when that call's own requests are done); each call returns when its own are; the last to leave ends the loop.

`keep` continues running requests on the new weights with their KV cache; `resubmit` aborts them and adds
each again with its tokens so far appended to the prompt and the rest of its budget (a partial rollout): the
continuation's KV is computed afresh by the new weights. The pieces are stitched back here (`Partial`,
`cut_at_stop`). Every sample records (first token index, version) switch points (`record_switch`).

Pure Python (no vLLM, no Ray): the engine uses it and the fast tests check it directly.
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Any, Callable, Iterator, Sequence

LANES = ("weights", "use")


@dataclasses.dataclass(frozen=True)
class Ticket:
    """A call's place in its engine's order: `seq` counts the calls of its lane issued to that engine before it;
    `after` (lane "use") counts the weight updates issued before it, all of which it must run on."""

    lane: str
    seq: int
    after: int = 0


class _Job:
    """A weight update handed to the generating loop; the update call waits on it."""

    def __init__(self, fn: Callable[[], Any]):
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # raised in the update call's own thread
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class Gate:
    def __init__(self, weights_done: int = 0, uses_started: int = 0):
        """The counters start above 0 on an engine that replaces a dead one mid-run (rlvr/rollout/engines.py)."""
        self._cv = threading.Condition()
        self.weights_done = weights_done  # weight updates applied (lane "weights")
        self.uses_started = uses_started  # vLLM-driving calls started (lane "use")
        self.busy = ""  # "" | "loop" (a generating loop takes updates between steps) | "exclusive"
        self.loopers = 0  # calls in the generating loop (more than one when calls joined it)
        self.joinable = False  # the running loop takes further generating calls (until its last looper leaves)
        self._mailbox: list[_Job] = []

    def _turn(self, ticket: Ticket | None) -> bool:
        if ticket is None:  # a direct call (tests, tools): no order to keep
            return True
        if ticket.lane == "weights":
            return self.weights_done == ticket.seq
        return self.uses_started == ticket.seq and self.weights_done >= ticket.after

    @contextlib.contextmanager
    def use(self, ticket: Ticket | None, loop: bool = False, join: bool = False) -> Iterator[bool]:
        """Hold vLLM for a call; `loop`: the call runs `between_steps` and takes weight updates meanwhile;
        `join` (with `loop`): in its turn, enter a generating loop that is already running instead of waiting
        for it to end. Yields whether it joined one (the engine then lets one call's thread step vLLM at a time)."""
        join = join and loop
        with self._cv:
            self._cv.wait_for(lambda: (not self.busy or (join and self.busy == "loop" and self.joinable))
                              and self._turn(ticket))
            joined = bool(self.busy)
            if not joined:
                self.busy = "loop" if loop else "exclusive"
                self.joinable = join
            if loop:
                self.loopers += 1
            if ticket is not None:
                self.uses_started += 1
            self._cv.notify_all()
        try:
            yield joined
        finally:
            with self._cv:
                if loop:
                    self.loopers -= 1
                last = not loop or self.loopers == 0
                if last:
                    self.joinable = False  # no call joins a loop that is draining its last updates
            # updates handed over after the last step still run, so no update call waits forever; only the last
            # looper runs them (another still stepping vLLM would race them)
            while last:
                self.between_steps()
                with self._cv:
                    if not self._mailbox:
                        self.busy = ""
                        self._cv.notify_all()
                        break

    def weights(self, ticket: Ticket | None, fn: Callable[[], Any]) -> Any:
        """Run weight update `fn` in its turn: now if vLLM is idle, else between two steps of the generating loop."""
        with self._cv:
            self._cv.wait_for(lambda: self.busy in ("", "loop") and self._turn(ticket))
            job = _Job(fn) if self.busy == "loop" else None
            if job is not None:
                self._mailbox.append(job)
            else:
                self.busy = "exclusive"
        try:
            return job.wait() if job is not None else fn()
        finally:
            with self._cv:
                if job is None:
                    self.busy = ""
                if ticket is not None:
                    self.weights_done += 1
                self._cv.notify_all()

    def between_steps(self) -> int:
        """In the generating loop's thread: run the weight updates handed over; how many ran."""
        ran = 0
        while True:
            with self._cv:
                if not self._mailbox:
                    return ran
                job = self._mailbox.pop(0)
            job.run()
            ran += 1


# ---------------------------------------------------------------- requests across a switch
Versions = tuple[tuple[int, int], ...]


def record_switch(versions: Versions, generated: int, version: int, fresh_kv: bool) -> Versions:
    """A request's switch points after the weights became `version` with `generated` tokens sampled so far.

    `fresh_kv` (resubmit): a request with no token yet restarts wholly on the new weights, so its history is
    replaced; otherwise (keep, or tokens already sampled) the old version stays, since the tokens or the cached
    prompt KV it already has came from it.
    """
    if fresh_kv and generated == 0:
        return ((0, version),)
    if versions and versions[-1][1] == version:
        return versions
    return (*versions, (generated, version))


def oldest(versions: Versions, default: int) -> int:
    return min((v for _, v in versions), default=default)


@dataclasses.dataclass
class Partial:
    """One sample's request as it goes through resubmissions: the tokens and log-probs of its earlier pieces."""

    prompt_ids: list[int]
    max_tokens: int
    versions: Versions
    tokens: list[int] = dataclasses.field(default_factory=list)
    logprobs: list[float] = dataclasses.field(default_factory=list)
    pieces: int = 1  # requests it has been sampled by so far (1 + resubmissions)

    def absorb(self, tokens: Sequence[int], logprobs: Sequence[float]) -> None:
        """Keep an aborted piece's tokens before resubmitting."""
        self.tokens.extend(tokens)
        self.logprobs.extend(logprobs)
        self.pieces += 1

    def continuation(self) -> tuple[list[int], int]:
        """(prompt, max_tokens) of the next piece: the original prompt plus every token so far, the budget left."""
        return list(self.prompt_ids) + list(self.tokens), self.max_tokens - len(self.tokens)


def first_stop(text: str, stops: Sequence[str]) -> tuple[int, int] | None:
    """(start, end) in `text` of the stop string an incremental check meets first: the one that completes
    earliest (on a tie, the first in `stops`, as vLLM checks them)."""
    best: tuple[int, int] | None = None
    for s in stops:
        if not s:
            continue
        start = text.find(s)
        if start >= 0 and (best is None or start + len(s) < best[1]):
            best = (start, start + len(s))
    return best


def cut_at_stop(tokens: Sequence[int], text: str, stops: Sequence[str],
                decode: Callable[[list[int]], str]) -> tuple[int, str] | None:
    """Where a stitched response must end when a stop string completes in it: (tokens kept, body text).

    The continuation's own stop check sees only its own text, so a stop string that straddles two pieces
    goes unseen there; the whole response is checked here instead. The kept tokens run up to the one whose
    decoding completes the stop string (vLLM keeps a matched stop string's tokens and drops its text).
    """
    hit = first_stop(text, stops)
    if hit is None:
        return None
    start, end = hit
    j = 1
    while j < len(tokens) and len(decode(list(tokens[:j]))) < end:
        j += 1
    return j, text[:start]
