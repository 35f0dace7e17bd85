"""Instruction-following verifier (IFEval's 25 instruction types plus IFBench constraints).

``get_verifier("ifeval")`` or ``get_verifier("ifeval", loose=True)``; see
:mod:`verifiers.ifeval.verifier` for the ground-truth format and scoring.
"""
from verifiers.ifeval.spec import INSTRUCTIONS
from verifiers.ifeval.verifier import (
    GroundTruthError,
    IFEvalVerifier,
    parse_ground_truth,
    supported_instructions,
)

__all__ = [
    "INSTRUCTIONS",
    "GroundTruthError",
    "IFEvalVerifier",
    "parse_ground_truth",
    "supported_instructions",
]
