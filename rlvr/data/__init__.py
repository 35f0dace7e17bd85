"""Data: built-in generators (builtin), the one row-file reader (reader), prompt sets (prompts), packing.

Import the submodule you need; the package itself imports nothing, so reading a file does not pull in torch.
"""
