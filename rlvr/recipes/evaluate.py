"""Cheap held-out accuracy of a checkpoint: greedy decoding, scored with each row's own verifier.

The prompts are the ones `rlvr train` evaluates on (the same source, split, size and seed), so a
stage's figure and the RL run's eval/accuracy_start agree. transformers' generate is enough for
the tiny models on a CPU; `engine="vllm"` runs vLLM's offline LLM for real checkpoints on GPUs.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import torch

log = logging.getLogger(__name__)


def eval_prompts(tokenizer: Any, source: str, split: str, size: int, seed: int, chat: bool) -> tuple[list[Any], list[str], list[str]]:
    """(rows, prompt texts, stop strings) for an eval set; chat wraps the bare question in the chat template."""
    from rlvr.data.builtin import find_builtin, load_builtin
    from rlvr.data.prompts import load_prompts

    rows = load_prompts(source, split=split, n=size or None, seed=seed)
    if not rows:
        raise ValueError(f"eval: {source!r} split {split!r} has no rows")
    stop = list(getattr(load_builtin(source), "STOP", [])) if find_builtin(source) is not None else []
    if chat:
        from rlvr.recipes.sft import STOP as CHAT_STOP

        prompts = [tokenizer.apply_chat_template([{"role": "user", "content": r.question}], tokenize=False,
                                                 add_generation_prompt=True) for r in rows]
        stop = list(CHAT_STOP)
    else:
        prompts = [r.prompt for r in rows]
    return rows, prompts, stop


def cut_at_stop(text: str, stop: list[str]) -> str:
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i >= 0:
            cut = min(cut, i)
    return text[:cut]


@torch.no_grad()
def generate_greedy(model_path: str, prompts: list[str], max_tokens: int, stop: list[str], batch_size: int = 64) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    eos = [tok.eos_token_id] + [i for i in tok.convert_tokens_to_ids(["<|im_end|>"]) if i is not None and i != tok.unk_token_id]
    out: list[str] = []
    for k in range(0, len(prompts), batch_size):
        enc = tok(prompts[k:k + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        gen = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=pad,
                             eos_token_id=list(dict.fromkeys(eos)))
        for row in gen[:, enc["input_ids"].shape[1]:]:
            # Special tokens stay in the text (a Think answer follows "</think>"); end of text and padding cut it.
            out.append(cut_at_stop(tok.decode(row, skip_special_tokens=False), stop + [tok.eos_token]))
    return out


def generate_vllm(model_path: str, prompts: list[str], max_tokens: int, stop: list[str]) -> list[str]:
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_path, seed=0, enforce_eager=True)
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, stop=stop or None)
    return [o.outputs[0].text for o in llm.generate(prompts, params)]


def eval_checkpoint(model_path: str, source: str = "arithmetic", split: str = "eval", size: int = 200, seed: int = 1,
                    max_tokens: int = 32, chat: bool = False, engine: str = "transformers", batch_size: int = 64,
                    threads: int = 0) -> dict[str, Any]:
    """{"accuracy", "n", "seconds", "examples"}: greedy accuracy on `size` prompts of `source`."""
    from transformers import AutoTokenizer

    from verifiers.base import get_verifier

    started = time.time()
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        tok = AutoTokenizer.from_pretrained(model_path)
        rows, prompts, stop = eval_prompts(tok, source, split, size, seed, chat)
        if engine == "vllm":
            texts = generate_vllm(model_path, prompts, max_tokens, stop)
        else:
            texts = generate_greedy(model_path, prompts, max_tokens, stop, batch_size)
    finally:
        torch.set_num_threads(old_threads)
    verifiers: dict[str, Any] = {}
    correct = 0
    examples = []
    for row, text in zip(rows, texts):
        verify = verifiers.setdefault(row.verifier, get_verifier(row.verifier))
        ok = bool(verify(text, row.ground_truth, row.prompt, dict(row.metadata)).correct)
        correct += ok
        if len(examples) < 4:
            examples.append({"prompt": row.question, "response": text, "answer": row.ground_truth, "correct": ok})
    result = {"accuracy": correct / len(rows), "n": len(rows), "seconds": round(time.time() - started, 2),
              "examples": examples}
    log.info("eval %s on %s: %.3f (%d prompts, %.1fs)", model_path, source, result["accuracy"], len(rows),
             result["seconds"])
    return result
