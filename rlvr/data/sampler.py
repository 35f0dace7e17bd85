"""Which prompts each step draws: shuffled passes over the training set (skipping retired prompts), and the
group requests the engines sample, one per drawn row. Both are checkpointed state (rlvr/checkpoint.py)."""
from __future__ import annotations

import random
from typing import Any

from rlvr.algorithms.sampling import PromptRetirement
from rlvr.data.prompts import PromptSet
from rlvr.types import GroupRequest


class PromptSampler:
    """Shuffled passes over the training prompts, skipping retired ones."""

    def __init__(self, prompts: PromptSet, seed: int, retirement: PromptRetirement | None):
        self.rows = prompts.rows
        self.rng = random.Random(seed)
        self.retirement = retirement
        self.order: list[int] = []
        self.epoch = -1

    def take(self, k: int) -> list[Any]:
        out = []
        guard = 0
        while len(out) < k:
            if not self.order:
                self.order = list(range(len(self.rows)))
                self.rng.shuffle(self.order)
                self.epoch += 1
                if self.retirement is not None and self.epoch > 0:
                    self.retirement.new_epoch()
            row = self.rows[self.order.pop()]
            guard += 1
            if self.retirement is not None and self.retirement.is_retired(row.id) and guard < 10 * len(self.rows):
                continue
            out.append(row)
        return out

    def state_dict(self) -> dict[str, Any]:
        """The position in the shuffled passes (the retirement object saves itself)."""
        return {"rng": self.rng.getstate(), "order": list(self.order), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])
        self.order = list(state["order"])
        self.epoch = int(state["epoch"])


def group_requests(rows: list[Any], step: int, n: int, max_tokens: int, first_uid: int) -> list[GroupRequest]:
    """One request per row; `uid`s count on from `first_uid`, so a prompt drawn twice gets two groups."""
    return [
        GroupRequest(prompt_id=str(r.id), prompt=r.prompt, prompt_ids=list(r.prompt_ids), ground_truth=r.ground_truth,
                     verifier=r.verifier, step=step, n=n, max_tokens=max_tokens, metadata=dict(r.metadata),
                     uid=first_uid + i)
        for i, r in enumerate(rows)
    ]
