"""The instruction-following verifier: IFEval's 25 instruction types plus IFBench's.

Ground truth is IFEval's row format::

    {"instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
     "kwargs": [{}, {"num_words": 50, "relation": "less than"}]}

either as an object or as its JSON text. Scoring uses the text after the last
``</think>`` (stripped); a response whose ``<think>`` never closes follows nothing.
reward is the fraction of instructions followed, correct means all were (IFEval's
"strict" accuracy, or its "loose" one with ``loose=True``).
"""
from __future__ import annotations

from typing import Any

from verifiers.base import TextVerifier, VerifierResult, ground_truth_object, register
from verifiers.ifeval import ifbench_format, ifbench_words, ifeval_checks  # noqa: F401  (registers checks)
from verifiers.ifeval.spec import INSTRUCTIONS, Instruction, KwargsError, parse_kwargs
from verifiers.ifeval.text import known_languages, strip_think


class GroundTruthError(ValueError):
    """Ground truth that cannot be scored; the message says which entry and field."""


Plan = list[tuple[Instruction, dict[str, Any]]]


def parse_ground_truth(
    ground_truth: Any, prompt: str | None = None, ignore_unknown_kwargs: bool = False
) -> Plan:
    """Each instruction with its validated kwargs, or GroundTruthError."""
    ground_truth = ground_truth_object(
        ground_truth, error=GroundTruthError, not_json="ground truth is not valid JSON: {exc}",
        not_object="ground truth must be an object with instruction_id_list and kwargs, got {got}")
    ids = ground_truth.get("instruction_id_list")
    if not isinstance(ids, list) or not ids:
        raise GroundTruthError("ground truth field 'instruction_id_list' must be a non-empty list")
    kwargs_list = ground_truth.get("kwargs")
    if kwargs_list is None:
        kwargs_list = [{} for _ in ids]
    if not isinstance(kwargs_list, list) or len(kwargs_list) != len(ids):
        got = len(kwargs_list) if isinstance(kwargs_list, list) else type(kwargs_list).__name__
        raise GroundTruthError(
            f"ground truth field 'kwargs' must be a list with one entry per instruction "
            f"({len(ids)}), got {got}"
        )
    plan: Plan = []
    for index, (instruction_id, raw_kwargs) in enumerate(zip(ids, kwargs_list)):
        spec = INSTRUCTIONS.get(instruction_id) if isinstance(instruction_id, str) else None
        if spec is None:
            raise GroundTruthError(
                f"instruction {index}: unknown instruction id {instruction_id!r} "
                f"(field 'instruction_id_list')"
            )
        try:
            kwargs = parse_kwargs(spec, raw_kwargs, prompt, ignore_unknown_kwargs)
        except KwargsError as exc:
            raise GroundTruthError(f"instruction {index} ({instruction_id}): kwargs {exc}") from None
        plan.append((spec, kwargs))
    return plan


def loose_variants(text: str) -> list[str]:
    """IFEval's loose variants: without the first and/or last line, and without asterisks."""
    lines = text.split("\n")
    trimmed = [
        text,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return trimmed + [variant.replace("*", "") for variant in trimmed]


@register("ifeval")
class IFEvalVerifier(TextVerifier):
    """Scores a response against IFEval/IFBench instructions.

    loose: also accept a response that follows an instruction once its first or last
        line is removed or its asterisks are stripped (IFEval's "loose" accuracy).
    ignore_unknown_kwargs: skip kwargs keys an instruction does not take instead of
        rejecting the item (for data sets that merge several instructions' arguments).
    """

    def __init__(self, loose: bool = False, ignore_unknown_kwargs: bool = False):
        self.loose = loose
        self.ignore_unknown_kwargs = ignore_unknown_kwargs

    def warmup(self) -> None:
        """Load langdetect's language profiles now (seconds): the pool runs this at load time, so the first
        item with a language instruction is not the one that pays for it, or times out on it."""
        known_languages()

    def score(self, response: str, ground_truth: Any, prompt: str | None,
              metadata: dict[str, Any] | None) -> VerifierResult:
        try:
            plan = parse_ground_truth(ground_truth, prompt, self.ignore_unknown_kwargs)
        except GroundTruthError as exc:
            return VerifierResult.failure(str(exc))

        text, think = strip_think(response)
        mode = "loose" if self.loose else "strict"
        if text is None:
            candidates: list[str] = []
        else:
            text = text.strip()
            candidates = loose_variants(text) if self.loose else [text]
        # As in IFEval, an empty text follows no instruction (not even "no commas").
        candidates = [c for c in candidates if c.strip()]

        followed = [
            any(spec.check(candidate, **kwargs) for candidate in candidates)
            for spec, kwargs in plan
        ]
        details = {
            "instructions": [
                {"id": spec.id, "followed": ok} for (spec, _), ok in zip(plan, followed)
            ],
            "mode": mode,
            "think": think,
        }
        return VerifierResult(
            reward=sum(followed) / len(followed), correct=all(followed), details=details
        )


def supported_instructions() -> list[str]:
    """Every instruction id this verifier can score."""
    return sorted(INSTRUCTIONS)
