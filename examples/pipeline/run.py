"""Base -> midtrain -> RL-Zero on the tiny synthetic arithmetic setup, in one command.

    python examples/pipeline/run.py                 # cached stages are reused
    python examples/pipeline/run.py fresh=true      # rebuild the base and the midtrained model too
    python examples/pipeline/run.py -m midtrain.data.total_tokens=300000,600000   # a Hydra multirun, one row each

Same as `rlvr pipeline ...`; see rlvr/pipeline.py for the overrides (base.*, midtrain.*, rl.*).
"""
import sys

from rlvr.cli import main

if __name__ == "__main__":
    sys.exit(main(["pipeline", *sys.argv[1:]]))
