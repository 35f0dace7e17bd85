"""Training recipes that produce the checkpoints RL starts from (base, midtraining, SFT)."""
