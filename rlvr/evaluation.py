"""Held-out evaluation with the rollout engines: avg@k, pass@k and maj@k accuracy.

Evaluation always scores with each row's own verifier, never the training override, so a
random-reward run is measured with the real verifier.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from verifiers.pool import ScoreItem


def evaluate(engines: Any, prompts: Any, eval_cfg: Any, stop: list[str], scorer: Any, seed: int) -> dict[str, float]:
    rows = prompts.rows
    k = max(1, int(eval_cfg.samples))
    texts = [[t for t, _ in samples] for samples in engines.generate(
        [list(r.prompt_ids) for r in rows], k, float(eval_cfg.temperature), int(eval_cfg.max_tokens), stop, seed)]
    items = [ScoreItem(verifier=r.verifier, response=t, ground_truth=r.ground_truth, prompt=r.prompt,
                       metadata=dict(r.metadata))
             for r, ts in zip(rows, texts) for t in ts]
    results = scorer.pool.score(items)
    return summarize(results, k, [len(t) for ts in texts for t in ts])


def summarize(results: list[Any], k: int, lengths: list[int] | None = None) -> dict[str, float]:
    """avg@k (mean correctness), pass@k (any correct) and maj@k (the most common extracted answer)."""
    n = len(results) // k
    avg = sum(r.correct for r in results) / max(1, len(results))
    passed = 0
    majority = 0
    for i in range(n):
        chunk = results[i * k : (i + 1) * k]
        passed += any(r.correct for r in chunk)
        answers = Counter(str(r.details.get("extracted")) for r in chunk if r.details.get("extracted") is not None)
        if answers:
            top, _ = answers.most_common(1)[0]
            majority += any(r.correct for r in chunk if str(r.details.get("extracted")) == top)
    out = {"eval/accuracy": avg, f"eval/pass@{k}": passed / max(1, n), f"eval/maj@{k}": majority / max(1, n),
           "eval/reward_mean": sum(r.reward for r in results) / max(1, len(results)),
           "eval/errors": float(sum(r.error is not None for r in results))}
    if lengths:
        out["eval/response_chars_mean"] = sum(lengths) / len(lengths)
    return out
