"""Multi-stage response-length budget (CAMPO, MiroMind-M1 Algorithm 1 and §4.4.1 / §4.5.2).

Each stage fixes the rollout ``max_tokens`` and the clip bounds (eps_low, eps_high). A stage ends when the
optimizer step count reaches its ``until_step`` (a global step count, as in "switch after 1200 steps") or when
the batch truncation rate reaches its ``until_truncation_rate`` (our stand-in for the paper's "response length
saturates"). The last stage never ends. With no stages configured there is one stage built from the
defaults (rollout.max_tokens and the algorithm's eps).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr.algorithms.config import LengthStage


def _as_stage(stage: Any, index: int) -> LengthStage:
    if isinstance(stage, LengthStage):
        out = stage
    elif isinstance(stage, Mapping) or hasattr(stage, "keys"):
        names = {f.name for f in dataclasses.fields(LengthStage)}
        unknown = set(stage.keys()) - names
        if unknown:
            raise ValueError(f"algorithm.length_stages[{index}]: unknown fields {sorted(unknown)}")
        out = LengthStage(**{k: stage[k] for k in stage.keys()})
    else:
        raise TypeError(f"algorithm.length_stages[{index}] must be a LengthStage or a mapping, got {type(stage)}")
    if out.max_tokens <= 0:
        raise ValueError(f"algorithm.length_stages[{index}].max_tokens must be > 0, got {out.max_tokens}")
    if not 0.0 <= out.eps_low < 1.0 or out.eps_high < 0.0:
        raise ValueError(
            f"algorithm.length_stages[{index}]: need 0 <= eps_low < 1 and eps_high >= 0, "
            f"got {out.eps_low}, {out.eps_high}"
        )
    if out.until_truncation_rate is not None and not 0.0 <= out.until_truncation_rate <= 1.0:
        raise ValueError(
            f"algorithm.length_stages[{index}].until_truncation_rate must be in [0, 1], "
            f"got {out.until_truncation_rate}"
        )
    return out


class LengthSchedule:
    """Tracks the current stage; the trainer calls ``update`` once per optimizer step."""

    def __init__(
        self,
        stages: Sequence[LengthStage | Mapping[str, Any]],
        default_max_tokens: int,
        default_eps_low: float,
        default_eps_high: float,
    ) -> None:
        if stages:
            self.stages = [_as_stage(s, i) for i, s in enumerate(stages)]
        else:
            self.stages = [_as_stage(LengthStage(max_tokens=default_max_tokens, eps_low=default_eps_low,
                                                 eps_high=default_eps_high), 0)]
        steps = [s.until_step for s in self.stages[:-1] if s.until_step is not None]
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise ValueError(f"algorithm.length_stages: until_step values must increase, got {steps}")
        self.index = 0

    @property
    def max_tokens(self) -> int:
        return self.stages[self.index].max_tokens

    @property
    def eps_low(self) -> float:
        return self.stages[self.index].eps_low

    @property
    def eps_high(self) -> float:
        return self.stages[self.index].eps_high

    @property
    def is_last(self) -> bool:
        return self.index == len(self.stages) - 1

    def update(self, step: int, truncation_rate: float | None = None) -> bool:
        """Advance after optimizer step ``step`` (steps done so far) given that batch's truncation rate.

        Returns True when the stage changed. The truncation trigger can move at most one stage (the rate was
        measured under the old budget); step triggers can skip several stages, e.g. on resume.
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if truncation_rate is not None and not 0.0 <= truncation_rate <= 1.0:
            raise ValueError(f"truncation_rate must be in [0, 1], got {truncation_rate}")
        changed = False
        rate = truncation_rate
        while not self.is_last:
            stage = self.stages[self.index]
            by_step = stage.until_step is not None and step >= stage.until_step
            threshold = stage.until_truncation_rate
            by_rate = rate is not None and threshold is not None and rate >= threshold
            if not (by_step or by_rate):
                break
            self.index += 1
            changed = True
            rate = None
        return changed

    def state_dict(self) -> dict[str, int]:
        """The current stage (the stages themselves come from the config, which a resume must not change)."""
        return {"index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if not 0 <= state["index"] < len(self.stages):
            raise ValueError(f"length schedule state: stage {state['index']} of {len(self.stages)}")
        self.index = int(state["index"])
