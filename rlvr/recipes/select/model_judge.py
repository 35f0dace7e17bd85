"""The model teacher: a trained checkpoint answers each document's question; the dimension is whether the
document's answer agrees with the model's. It is fallible (the checkpoint is wrong on some templates) and
costs a generation per document, which is what distilling it into a student is for. Sampled at a
temperature, its repeats can disagree; discovery measures that and drops it when it is unreliable.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from rlvr.data.builtin import load_builtin
from rlvr.evaluation import Generate
from rlvr.recipes.select.judges import Parsed
from rlvr.recipes.select.rubrics import Dimension

MAX_TOKENS = 32


def model_agrees(generate: Generate, tokenizer: Any, temperature: float) -> Dimension:
    """The `model_agrees` dimension over `generate` (rlvr.evaluation's Generate: prompt ids in, completions out)."""
    arithmetic = load_builtin("arithmetic")

    def judge(docs: Sequence[Parsed], seed: int) -> list[Optional[float]]:
        asked = [i for i, p in enumerate(docs) if p.question and p.answer is not None]
        prompts = [tokenizer(arithmetic.format_prompt({"question": docs[i].question}),
                             add_special_tokens=False)["input_ids"] for i in asked]
        out: list[Optional[float]] = [None] * len(docs)
        if not asked:
            return out
        completions = generate(prompts, 1, temperature, MAX_TOKENS, list(arithmetic.STOP), seed)
        for i, group in zip(asked, completions):
            said = arithmetic.extract_answer(group[0][0])
            out[i] = float(said is not None and arithmetic.is_correct(f"Answer: {said}", docs[i].answer))
        return out

    return Dimension("model_agrees", judge, "0: the teacher model answers the question otherwise; 4: it gives the "
                     "document's answer", stochastic=temperature > 0, teacher="model")
