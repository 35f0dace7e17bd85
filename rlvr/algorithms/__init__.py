"""Policy-optimisation maths for OlmoRL, CAMPO, GRPO, DAPO and Dr. GRPO as pure tensor functions.

Submodules: config (dataclasses), advantages, losses, repetition, length_schedule, sampling.
Nothing is imported here so that ``import rlvr.algorithms.config`` stays cheap.
"""
