"""Learner: FSDP2 workers (Ray actors) that apply an objective and push weights to the engines, and the
causal-LM training loop (pretraining, recipe stages, SFT) on the same workers."""
