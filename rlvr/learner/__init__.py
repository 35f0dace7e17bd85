"""Learner: FSDP2 workers (Ray actors) that apply an objective and push weights to the engines."""
