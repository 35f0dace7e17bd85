"""Tokenizer and tiny Qwen2 model factory for CPU-sized experiments."""
from rlvr.models.tiny import init_model, make_tiny_checkpoint, tiny_qwen2_config
from rlvr.models.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer

__all__ = ["SPECIAL_TOKENS", "init_model", "load_tokenizer", "make_tiny_checkpoint", "tiny_qwen2_config",
           "train_tokenizer"]
