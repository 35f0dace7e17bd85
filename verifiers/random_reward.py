"""``random``: a Bernoulli(p) reward that ignores the response, for pipeline checks and as
the spurious-reward baseline (a model trained on it should not improve on the task).

The draw is a hash of (seed, key), so it is reproducible: the key is
``metadata["sample_id"]`` when given (the same in every process), else the prompt plus a
per-prompt call counter of this instance (reproducible for one instance scoring in a fixed
order, but not across pool workers: pass ``sample_id`` for that).
"""
from __future__ import annotations

import hashlib
import threading
from collections import Counter
from typing import Any

from verifiers.base import VerifierResult, register


@register("random")
class RandomVerifier:
    """Reward 1 with probability ``p`` (default 0.5), else 0; ``seed`` (default 0) picks the stream."""

    def __init__(self, p: float = 0.5, seed: int = 0):
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p
        self.seed = int(seed)
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"p": self.p, "seed": self.seed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def draw(self, key: str) -> float:
        """The uniform number in [0, 1) for this key under this seed."""
        # surrogatepass: a prompt or sample id with a lone surrogate (invalid UTF-16 a tokenizer can emit)
        # still hashes, always to the same bytes, instead of raising UnicodeEncodeError
        digest = hashlib.blake2b(f"{self.seed}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def __call__(self, response: str, ground_truth: Any = None, prompt: str | None = None,
                 metadata: dict[str, Any] | None = None) -> VerifierResult:
        sample_id = (metadata or {}).get("sample_id")
        if sample_id is not None:
            key = f"id:{sample_id}"
        else:
            base = prompt or ""
            with self._lock:
                count = self._calls[base]
                self._calls[base] += 1
            key = f"prompt:{base}\x00{count}"
        u = self.draw(key)
        hit = u < self.p
        return VerifierResult(reward=1.0 if hit else 0.0, correct=hit,
                              details={"u": u, "p": self.p, "seed": self.seed,
                                       "key": "sample_id" if sample_id is not None else "prompt+counter"})
