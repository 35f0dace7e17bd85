"""Cheap held-out accuracy of a checkpoint for the recipe stages: greedy decoding, scored by rlvr.evaluation.

The prompts are the ones `rlvr train` evaluates on (the same source, split, size and seed, loaded by
rlvr.data.prompts) and the scoring is rlvr.evaluation's, in the verifier pool, so a stage's figure and the
RL run's eval/accuracy_start agree. transformers' generate (:func:`hf_generate`, this module's backend) is
enough for the tiny models on a CPU; `engine="vllm"` runs a local vLLM engine for real checkpoints on GPUs.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any, Iterator

import torch

from rlvr.data.prompts import load_prompt_set
from rlvr.evaluation import Completion, Generate, local_llm, sample_and_score, summarize, vllm_generate
from rlvr.recipes.sft import STOP as CHAT_STOP
from verifiers.pool import VerifierPool

log = logging.getLogger(__name__)
EXAMPLES = 4  # responses kept in the result for a reader to look at
VERIFIER_TIMEOUT_S = 10.0  # per response, as reward.timeout_s defaults to in RL


def cut_at_stop(text: str, stop: list[str]) -> str:
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i >= 0:
            cut = min(cut, i)
    return text[:cut]


def hf_generate(model_path: str, batch_size: int = 64) -> Generate:
    """A :data:`rlvr.evaluation.Generate` over transformers' ``generate`` (temperature 0: greedy)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    im_end = [i for i in tok.convert_tokens_to_ids(["<|im_end|>"]) if i is not None and i != tok.unk_token_id]
    eos = list(dict.fromkeys([tok.eos_token_id] + im_end))

    @torch.no_grad()
    def generate(prompt_ids: list[list[int]], n: int, temperature: float, max_tokens: int, stop: list[str],
                 seed: int) -> list[list[Completion]]:
        sample = temperature > 0
        options: dict[str, Any] = {"do_sample": sample}
        if sample:  # greedy otherwise: one sequence per prompt, repeated n times
            torch.manual_seed(seed)
            options.update(temperature=temperature, num_return_sequences=n)
        out: list[list[Completion]] = []
        for start in range(0, len(prompt_ids), batch_size):
            batch = prompt_ids[start:start + batch_size]
            width = max(len(p) for p in batch)  # left padding, as the tokenizer's padding_side="left" gives
            ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in batch])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_tokens, pad_token_id=pad,
                                 eos_token_id=eos, **options)
            rows = [_completion(tok, row, stop, eos, pad) for row in gen[:, width:]]
            per_prompt = n if sample else 1
            for i in range(len(batch)):
                group = rows[i * per_prompt:(i + 1) * per_prompt]
                out.append(group if sample else group * n)
        return out

    return generate


def _completion(tok: Any, row: torch.Tensor, stop: list[str], eos: list[int], pad: int) -> Completion:
    # Special tokens stay in the text (a Think answer follows "</think>"); end of text and padding cut it.
    text = cut_at_stop(tok.decode(row, skip_special_tokens=False), stop + [tok.eos_token])
    ids = row.tolist()
    ends = [i for i, t in enumerate(ids) if t in eos or t == pad]
    return text, ids[:ends[0] + 1] if ends else ids


def eval_checkpoint(model_path: str, source: str = "arithmetic", split: str = "eval", size: int = 200, seed: int = 1,
                    max_tokens: int = 32, chat: bool = False, engine: str = "transformers", batch_size: int = 64,
                    threads: int = 0) -> dict[str, Any]:
    """{"accuracy", "n", "seconds", "examples"}: greedy accuracy on `size` prompts of `source`."""
    from transformers import AutoTokenizer

    started = time.time()
    prompts = load_prompt_set(source, split, size or None, seed, AutoTokenizer.from_pretrained(model_path), chat=chat)
    stop = list(CHAT_STOP) if chat else prompts.stop
    with _torch_threads(threads):
        generate = vllm_generate(local_llm(model_path, seed=0)) if engine == "vllm" else hf_generate(model_path,
                                                                                                     batch_size)
        with VerifierPool(num_workers=min(4, os.cpu_count() or 1), timeout_s=VERIFIER_TIMEOUT_S) as pool:
            scored = sample_and_score(generate, prompts, samples=1, temperature=0.0, max_tokens=max_tokens,
                                      stop=stop, pool=pool, seed=seed)
    examples = [{"prompt": s.row.question, "response": s.text, "answer": s.row.ground_truth,
                 "correct": bool(s.result.correct)} for s in scored[:EXAMPLES]]
    result = {"accuracy": summarize(scored, 1)["eval/accuracy"], "n": len(scored),
              "seconds": round(time.time() - started, 2), "examples": examples}
    log.info("eval %s on %s: %.3f (%d prompts, %.1fs)", model_path, source, result["accuracy"], len(scored),
             result["seconds"])
    return result


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Generation on `threads` CPU threads (0: leave torch's setting), restored afterwards."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)
