"""rlvr's verifiers: reward functions for verifiable tasks. See verifiers/base.py for the contract."""
from verifiers.base import TextVerifier, VerifierResult, get_verifier, list_verifiers, register

__all__ = ["TextVerifier", "VerifierResult", "get_verifier", "list_verifiers", "register"]
