"""The `rlvr` command. Commands that take Hydra overrides (train, the recipe stages, pipeline) are Hydra apps
run through rlvr.hydra_app; eval, verify, merge and decontaminate are argparse tools; pretrain prints the
cached base's path. Each command's module is imported when it is called, so a command loads only what it
needs (`rlvr verify` never imports torch, vLLM or Ray).
"""
from __future__ import annotations

import sys

USAGE = """usage: rlvr COMMAND [ARGS]

commands:
  train      RL training, a Hydra app over conf/ (overrides, -m multirun, --cfg job, hydra.run.dir=...)
  eval       score a checkpoint on a dataset (rlvr eval --help)
  verify     score a JSONL of responses with a named verifier (rlvr verify --help, --list)
  data       data show SOURCE [-n N] [KEY=VALUE ...]: how rows will be fed to the model (no engines)
  pretrain   build (or find in the cache) the tiny base checkpoint `rlvr train` starts from; print its path
  plot       training curves of runs or a multirun, one line per run (rlvr plot RUN_DIR ... -o plot.png)

recipes (Hydra apps like train: rlvr COMMAND --help; conf/recipe/README.md):
  base, midtrain, long-context, sft, microanneal, recipe   run a stage recipe (recipe=NAME, -m, --cfg job)
  select          choose documents of a candidate pool per source (MIRA; recipe=tiny_mira)
  pipeline        base -> midtrain -> RL-Zero, one table (base.KEY=V midtrain.KEY=V rl.KEY=V, -m)
  decontaminate   n-gram overlap of a mix against eval sets
  merge           average checkpoints (model souping)
"""
RECIPE_COMMANDS = ("base", "midtrain", "long-context", "sft", "microanneal", "select", "recipe", "merge",
                   "decontaminate")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "train":
        from rlvr.train_app import main as train_main

        return train_main(rest)
    if command == "pretrain":
        from rlvr.train_app import pretrain_main

        return pretrain_main(rest)
    if command == "pipeline":
        from rlvr.pipeline import main as pipeline_main

        return pipeline_main(rest)
    if command in RECIPE_COMMANDS:
        from rlvr.recipes.commands import COMMANDS

        return COMMANDS[command](rest)
    if command == "verify":
        from rlvr.verify_cli import main as verify_main

        return verify_main(rest)
    if command == "data":
        from rlvr.data_cli import main as data_main

        return data_main(rest)
    if command == "plot":
        from rlvr.plots import main as plot_main

        return plot_main(rest)
    if command == "eval":
        from rlvr.eval_cli import main as eval_main

        return eval_main(rest)
    print(f"rlvr: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
