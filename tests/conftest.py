import os

# Keep test runs from filling the user's cache and from fighting over threads.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Tests that start Ray clusters, vLLM engines or FSDP workers run in two xdist groups ("ray", "ray2"), one per
# worker with `--dist loadgroup`: two such runs at once fit this 2-core, 24 GiB machine (each starts its own
# local cluster); more would starve Ray's 30 s node start-up.
