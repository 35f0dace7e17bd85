"""Small shared types and constants."""
from __future__ import annotations

IGNORE_INDEX = -100  # label of a token that carries no loss (the Hugging Face / PyTorch cross-entropy convention)
