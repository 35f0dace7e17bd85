"""The recipes' `rlvr` subcommands (rlvr/cli.py dispatches here).

Recipe commands take Hydra-style arguments: `recipe=NAME` picks conf/recipe/NAME.yaml, any other
`key=value` overrides it, and `--cfg job` composes and validates the recipe and prints it without
running anything (real-model recipes are checked this way on machines without their GPUs).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Callable

from rlvr.recipes.config import RecipeError
from rlvr.recipes.sources import MixError

STAGE_COMMANDS = {  # command -> (default recipe, stages it runs)
    "recipe": ("tiny_midtrain", ("pretrain", "midtrain", "long_context", "sft", "microanneal")),
    "base": ("tiny_pretrain", ("pretrain",)),
    "midtrain": ("tiny_midtrain", ("midtrain",)),
    "long-context": ("tiny_long_context", ("long_context",)),
    "sft": ("tiny_sft_think", ("sft",)),
    "microanneal": ("tiny_microanneal", ("microanneal",)),
}
HELP = """usage: rlvr {command} [recipe=NAME] [KEY=VALUE ...] [--cfg job] [-o DIR]{extra}

  recipe=NAME   a recipe in conf/recipe/ (default {default}; `rlvr recipe --list` lists them)
  KEY=VALUE     Hydra overrides of the recipe (train.lr=1e-4, data.total_tokens=1000000, ...)
  --cfg job     compose and validate the recipe, print it, and exit without running
  -o DIR        output directory (default runs/recipes/<name>/<time>)
"""
MICROANNEAL_FLAGS = """
        [--candidate SOURCE] [--baseline SOURCE] [--tokens N] [--checkpoint PATH]

  SOURCE is a builtin generator (arithmetic:midtrain), a .jsonl/.parquet file (field `text`), or a
  YAML file holding one mix entry."""


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")


def parse_recipe_args(command: str, argv: list[str]) -> tuple[str, list[str], bool, list[str]]:
    """(recipe name, overrides, --cfg job given, leftover flags)."""
    default, _ = STAGE_COMMANDS[command]
    name = default
    overrides: list[str] = []
    flags: list[str] = []
    cfg_job = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--cfg", "-c"):
            if i + 1 >= len(argv) or argv[i + 1] != "job":
                raise RecipeError("--cfg takes 'job' (print the composed recipe without running it)")
            cfg_job = True
            i += 2
            continue
        if arg == "--cfg=job":
            cfg_job = True
        elif arg in ("-o", "--output-dir"):
            if i + 1 >= len(argv):
                raise RecipeError(f"{arg} needs a directory")
            overrides.append(f"output_dir={argv[i + 1]}")
            i += 2
            continue
        elif arg.startswith("recipe="):
            name = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            flags.append(arg)
            if i + 1 < len(argv) and not argv[i + 1].startswith("-") and "=" not in argv[i + 1]:
                flags.append(argv[i + 1])
                i += 1
        elif "=" in arg:
            overrides.append(arg)
        elif command == "recipe" and name == default and not overrides:
            name = arg  # `rlvr recipe NAME`
        else:
            raise RecipeError(f"unexpected argument {arg!r} (overrides are KEY=VALUE)")
        i += 1
    return name, overrides, cfg_job, flags


def _microanneal_overrides(flags: list[str]) -> list[str]:
    parser = argparse.ArgumentParser(prog="rlvr microanneal", add_help=False)
    parser.add_argument("--candidate")
    parser.add_argument("--baseline")
    parser.add_argument("--tokens", type=int)
    parser.add_argument("--checkpoint")
    args, rest = parser.parse_known_args(flags)
    if rest:
        raise RecipeError(f"rlvr microanneal: unknown flags {rest}")
    out = []
    for key, value in (("microanneal.candidate", args.candidate), ("microanneal.baseline", args.baseline),
                       ("microanneal.tokens", args.tokens), ("model.path", args.checkpoint)):
        if value is not None:
            out.append(f"{key}={value}")
    return out


def _stage_command(command: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        from rlvr.recipes.config import compose_recipe, derived_steps, list_recipes, to_yaml

        default, stages = STAGE_COMMANDS[command]
        if argv and argv[0] in ("-h", "--help"):
            print(HELP.format(command=command, default=default, extra=MICROANNEAL_FLAGS if command == "microanneal" else ""))
            return 0
        if argv and argv[0] == "--list":
            for name in list_recipes():
                try:
                    cfg = compose_recipe(name)
                    print(f"{name:<28} {cfg.stage:<13} {cfg.description}")
                except (RecipeError, MixError) as exc:
                    print(f"{name:<28} INVALID: {exc}")
            return 0
        try:
            name, overrides, cfg_job, flags = parse_recipe_args(command, argv)
            if command == "microanneal":
                overrides = _microanneal_overrides(flags) + overrides
            elif flags:
                raise RecipeError(f"rlvr {command}: unknown flags {flags}")
            cfg = compose_recipe(name, overrides)
            if cfg.stage not in stages:
                raise RecipeError(f"recipe {name!r} is a {cfg.stage} recipe; `rlvr {command}` runs "
                                  f"{', '.join(stages)} (use `rlvr recipe recipe={name}`)")
        except (RecipeError, MixError) as exc:
            print(f"rlvr {command}: {exc}", file=sys.stderr)
            return 2
        if cfg_job:
            print(to_yaml(cfg), end="")
            if cfg.stage in ("pretrain", "midtrain", "long_context") and cfg.data.total_tokens:
                print(f"# derived: {derived_steps(cfg, cfg.data.total_tokens)} optimizer steps of "
                      f"{cfg.train.batch_size} x {cfg.data.seq_len} tokens")
            print(f"# recipe {name!r} is valid ({cfg.stage}; sized for {cfg.hardware.device}"
                  f"{'' if cfg.hardware.device == 'cpu' else f', {cfg.hardware.nodes} x {cfg.hardware.gpus_per_node} {cfg.hardware.gpu}'})")
            return 0
        _setup_logging()
        if cfg.stage == "sft":
            from rlvr.recipes.sft_stage import run_sft

            summary = run_sft(cfg)
        elif cfg.stage == "microanneal":
            from rlvr.recipes.microanneal import run_microanneal

            summary = run_microanneal(cfg)
            print(summary["table"])
        else:
            from rlvr.recipes.stage import run_stage

            summary = run_stage(cfg)
        print(json.dumps({k: v for k, v in summary.items() if k in ("final", "output_dir", "steps", "tokens", "seconds")}
                         | {k: summary[k]["accuracy"] for k in ("eval_start", "eval_final") if isinstance(summary.get(k), dict)}))
        return 0

    return run


def merge_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rlvr merge", description="Average checkpoints (model souping) into a new "
                                     "Hugging Face checkpoint; config and tokenizer come from the first.")
    parser.add_argument("checkpoints", nargs="+", help="two or more checkpoint directories of one architecture")
    parser.add_argument("--weights", type=float, nargs="+", help="one weight per checkpoint (normalised; default uniform)")
    parser.add_argument("-o", "--output", required=True, help="directory of the merged checkpoint")
    args = parser.parse_args(argv)
    from rlvr.recipes.merge import MergeError, merge_checkpoints

    _setup_logging()
    try:
        out = merge_checkpoints(args.checkpoints, args.output, args.weights)
    except MergeError as exc:
        print(f"rlvr merge: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


def decontaminate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rlvr decontaminate", description="N-gram overlap between training data and "
                                     "eval sets. Default: a recipe's mix against the eval sets its config names.")
    parser.add_argument("overrides", nargs="*", help="recipe=NAME and KEY=VALUE overrides (default recipe tiny_midtrain)")
    parser.add_argument("--source", action="append", default=[], help="a .jsonl/.parquet file to check instead of a mix")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--eval", action="append", default=[], help="eval set (NAME, NAME@SPLIT or a file); repeatable")
    parser.add_argument("--n", type=int, default=0, help="n-gram length (default: the recipe's, 13)")
    parser.add_argument("--drop", action="store_true", help="with --source: write the kept rows to --output")
    parser.add_argument("--output", help="kept rows (JSONL) when --drop is given with one --source")
    parser.add_argument("--report", default="decontamination.json", help="where the JSON report goes")
    parser.add_argument("--tokenizer", help="tokenizer for the mix's token budgets (default: the recipe's start checkpoint's)")
    args = parser.parse_args(argv)
    from rlvr.recipes.decontaminate import build_decontaminator, write_report

    try:
        if args.source:
            if not args.eval:
                raise RecipeError("--source needs at least one --eval set")
            return _decontaminate_files(args)
        name, overrides, _, _ = parse_recipe_args("recipe", args.overrides)
        from rlvr.recipes.config import compose_recipe, resolve_mix_path
        from rlvr.recipes.mix import build_mix, load_mix

        cfg = compose_recipe(name, overrides)
        d = cfg.decontamination
        decon = build_decontaminator(args.eval or d.eval_sets, args.n or d.n, d.drop, d.eval_split, d.eval_size)
        from transformers import AutoTokenizer

        from rlvr.recipes.stage import built_start

        source = args.tokenizer or cfg.model.tokenizer or built_start(cfg.model.path)
        if not source:
            raise RecipeError(f"recipe {name!r} starts from {cfg.model.path!r}, which is not built yet; "
                              "pass --tokenizer DIR (token budgets are counted with it)")
        tokenizer = AutoTokenizer.from_pretrained(source)
        build_mix(load_mix(resolve_mix_path(cfg.data.mix)), tokenizer, cfg.data.total_tokens, cfg.data.seed, decon.keep)
    except (RecipeError, ValueError) as exc:
        print(f"rlvr decontaminate: {exc}", file=sys.stderr)
        return 2
    report = decon.report()
    write_report(report, args.report)
    print(json.dumps({"docs_matched": report["docs_matched"], "sources": report["sources"], "report": args.report}))
    return 0


def _decontaminate_files(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rlvr.recipes.decontaminate import build_decontaminator, write_report
    from rlvr.recipes.sources import read_records, render

    decon = build_decontaminator(args.eval, args.n or 13, args.drop)
    for source in args.source:
        records = list(read_records(f"--source {source}", Path(source)))
        texts = [render(source, rec, num, args.text_field, "") for num, rec in records]
        hits = decon.flags(source, texts)
        if args.drop and args.output:
            with open(args.output, "w", encoding="utf-8") as handle:
                for (_, rec), hit in zip(records, hits):
                    if not hit:
                        handle.write(json.dumps(rec) + "\n")
    report = decon.report()
    write_report(report, args.report)
    print(json.dumps({"docs_matched": report["docs_matched"], "sources": report["sources"], "report": args.report}))
    return 0


def pipeline_main(argv: list[str]) -> int:
    from rlvr.recipes.pipeline import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {name: _stage_command(name) for name in STAGE_COMMANDS}
COMMANDS.update({"merge": merge_main, "decontaminate": decontaminate_main, "pipeline": pipeline_main})
