import os

# Keep test runs from filling the user's cache and from fighting over threads.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
