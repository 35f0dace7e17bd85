"""rlvr: reinforcement learning with verifiable rewards on vLLM, Ray and FSDP2."""

__version__ = "0.1.0"
