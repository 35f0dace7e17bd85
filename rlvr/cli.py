"""The `rlvr` command: train (Hydra), eval, verify, pretrain, and the recipes' subcommands."""
from __future__ import annotations

import sys

USAGE = """usage: rlvr COMMAND [ARGS]

commands:
  train      RL training, a Hydra app over conf/ (overrides, -m multirun, hydra.run.dir=...)
  eval       score a checkpoint on a dataset (rlvr eval --help)
  verify     score a JSONL of responses with a named verifier (rlvr verify --help, --list)
  pretrain   build (or find in the cache) the tiny base checkpoint and print its path

recipes (rlvr COMMAND --help; conf/recipe/README.md):
  base, midtrain, long-context, sft, microanneal, recipe   run a stage recipe (recipe=NAME, --cfg job)
  decontaminate   n-gram overlap of a mix against eval sets
  merge           average checkpoints (model souping)
  pipeline        base -> midtrain -> RL-Zero, one table
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "train":
        from rlvr.train_app import run_hydra

        return run_hydra(rest)
    if command == "verify":
        from rlvr.verify_cli import main as verify_main

        return verify_main(rest)
    if command == "eval":
        from rlvr.eval_cli import main as eval_main

        return eval_main(rest)
    if command == "pretrain":
        from rlvr.train_app import pretrain_main

        return pretrain_main(rest)
    extra = _recipe_commands()
    if command in extra:
        return extra[command](rest)
    print(f"rlvr: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


def _recipe_commands() -> dict:
    """Subcommands the recipes package provides (merge, microanneal, decontaminate, ...)."""
    try:
        from rlvr.recipes.commands import COMMANDS
    except ImportError:
        return {}
    return dict(COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
