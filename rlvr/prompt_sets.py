"""Prompt rows for training and evaluation, tokenized once for the engines."""
from __future__ import annotations

import dataclasses
from typing import Any

from rlvr.data.builtin import find_builtin, load_builtin
from rlvr.data.prompts import PromptRow, load_prompts


@dataclasses.dataclass
class TokenizedPrompt:
    row: PromptRow
    prompt_ids: list[int]

    def __getattr__(self, name: str) -> Any:  # id, prompt, ground_truth, verifier, metadata, question
        return getattr(self.row, name)


@dataclasses.dataclass
class PromptSet:
    rows: list[TokenizedPrompt]
    stop: list[str]


def _stop_strings(source: str) -> list[str]:
    if find_builtin(source) is not None:
        return list(getattr(load_builtin(source), "STOP", []))
    return []


def load_prompt_set(source: str, split: str, n: int | None, seed: int, default_verifier: str, template: str,
                    tokenizer: Any) -> PromptSet:
    rows = load_prompts(source, split=split, n=n, seed=seed, default_verifier=default_verifier,
                        prompt_template=template or None)
    if not rows:
        raise ValueError(f"data: {source!r} split {split!r} has no rows")
    encoded = tokenizer([r.prompt for r in rows], add_special_tokens=False)["input_ids"]
    return PromptSet([TokenizedPrompt(r, list(ids)) for r, ids in zip(rows, encoded)], _stop_strings(source))


def load_prompt_sets(data: Any, tokenizer: Any) -> tuple[PromptSet, PromptSet]:
    """(train, eval) sets from a DataConfig."""
    train = load_prompt_set(data.source, "train", data.train_size or None, data.seed, data.default_verifier,
                            data.prompt_template, tokenizer)
    eval_source = data.eval_source or data.source
    evals = load_prompt_set(eval_source, "eval" if eval_source == data.source else "test", data.eval_size or None,
                            data.seed + 1, data.default_verifier, data.prompt_template, tokenizer)
    return train, evals
