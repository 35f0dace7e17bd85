"""Rollout: vLLM engines as Ray actors, streaming finished prompt groups to the learner."""
