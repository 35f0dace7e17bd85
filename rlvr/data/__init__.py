"""Datasets: built-in generators, prompt loading with validation, and packing for pretraining."""
from rlvr.data.builtin import list_builtin, load_builtin
from rlvr.data.packing import collate, pack_documents, packed_attention_mask, packed_forward_kwargs
from rlvr.data.prompts import DataError, PromptRow, load_prompts, stop_strings

__all__ = ["DataError", "PromptRow", "collate", "list_builtin", "load_builtin", "load_prompts", "pack_documents",
           "packed_attention_mask", "packed_forward_kwargs", "stop_strings"]
