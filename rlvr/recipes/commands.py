"""The recipes' `rlvr` subcommands (rlvr/cli.py dispatches here).

The stage commands (base, midtrain, long-context, sft, microanneal, select, recipe) are Hydra apps over
conf/stage.yaml, run through rlvr.hydra_app as `rlvr train` is: `recipe=NAME` picks
conf/recipe/NAME.yaml (each command has a default), any other KEY=VALUE overrides it, `-m` sweeps,
and `--cfg job` composes and validates the recipe and prints it without running anything
(real-model recipes are checked this way on machines without their GPUs). `merge` and
`decontaminate` are plain argparse tools.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from rlvr import hydra_app
from rlvr.recipes.config import (RecipeConfig, RecipeError, compose_recipe, derived_steps, list_recipes, recipe_from,
                                 resolve_mix_path)
from rlvr.recipes.decontaminate import build_decontaminator, write_report
from rlvr.recipes.mix import build_mix, load_mix
from rlvr.recipes.sources import MixError, read_records, render

STAGE_COMMANDS = {  # command -> (default recipe, stages it runs)
    "recipe": ("tiny_midtrain", ("pretrain", "midtrain", "long_context", "sft", "microanneal", "select")),
    "base": ("tiny_pretrain", ("pretrain",)),
    "midtrain": ("tiny_midtrain", ("midtrain",)),
    "long-context": ("tiny_long_context", ("long_context",)),
    "sft": ("tiny_sft_think", ("sft",)),
    "microanneal": ("tiny_microanneal", ("microanneal",)),
    "select": ("tiny_mira", ("select",)),
}
# Flags of the hand-written parser the stage commands had before they became Hydra apps, and what replaced them.
RETIRED_FLAGS = {"-o": "output_dir=DIR", "--output-dir": "output_dir=DIR",
                 "--candidate": "microanneal.candidate=SOURCE", "--baseline": "microanneal.baseline=SOURCE",
                 "--tokens": "microanneal.tokens=N", "--checkpoint": "model.path=DIR"}


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")


def split_recipe(overrides: list[str], default: str) -> tuple[str, list[str]]:
    """(recipe name, the other overrides): the last recipe=NAME wins, as in Hydra."""
    names = [o.split("=", 1)[1] for o in overrides if o.startswith("recipe=")]
    return (names[-1] if names else default), [o for o in overrides if not o.startswith("recipe=")]


def _check_stage(command: str, cfg: RecipeConfig) -> None:
    stages = STAGE_COMMANDS[command][1]
    if cfg.stage not in stages:
        raise RecipeError(f"recipe {cfg.name!r} is a {cfg.stage} recipe; `rlvr {command}` runs "
                          f"{', '.join(stages)} (use `rlvr recipe recipe={cfg.name}`)")


def _validated(command: str) -> Callable[[list[str]], tuple[int, str]]:
    """The --cfg job check: compose and validate the recipe; the footer gives the step count and the sizing."""

    def check(overrides: list[str]) -> tuple[int, str]:
        name, rest = split_recipe(overrides, STAGE_COMMANDS[command][0])
        try:
            cfg = compose_recipe(name, rest)
            _check_stage(command, cfg)
        except (RecipeError, MixError) as exc:
            print(f"rlvr {command}: {exc}", file=sys.stderr)
            return 2, ""
        lines = []
        if cfg.stage in ("pretrain", "midtrain", "long_context") and cfg.data.total_tokens:
            lines.append(f"# derived: {derived_steps(cfg, cfg.data.total_tokens)} optimizer steps of "
                         f"{cfg.train.batch_size} x {cfg.data.seq_len} tokens")
        hw = cfg.hardware
        sized = "" if hw.device == "cpu" else f", {hw.nodes} x {hw.gpus_per_node} {hw.gpu}"
        lines.append(f"# recipe {name!r} is valid ({cfg.stage}; sized for {hw.device}{sized})")
        return 0, "\n".join(lines)

    return check


def _stage_task(command: str) -> Callable[[DictConfig], None]:
    """The Hydra task of a stage command: validate, resolve the start checkpoint, run the stage's runner."""

    def task(composed: DictConfig) -> None:
        hydra_cfg = HydraConfig.get()
        try:
            cfg = recipe_from(composed, hydra_cfg.runtime.choices.get("recipe") or "")
            _check_stage(command, cfg)
        except (RecipeError, MixError) as exc:
            print(f"rlvr {command}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        # The runners import torch, transformers and Ray: loaded when a stage runs, so --help and --cfg stay fast.
        from rlvr.recipes import cache

        out = Path(cfg.output_dir or hydra_cfg.runtime.output_dir)
        summary = cache.runner_for(cfg)(cfg, cache.resolve_start(cfg.model.path), out)
        if "table" in summary:
            print(summary["table"])
        keys = ("final", "output_dir", "steps", "tokens", "seconds")
        print(json.dumps({k: v for k, v in summary.items() if k in keys}
                         | {k: summary[k]["accuracy"] for k in ("eval_start", "eval_final")
                            if isinstance(summary.get(k), dict)}))

    return task


def _config_name(command: str) -> str:
    return "rlvr_stage_" + command.replace("-", "_")


for _command, (_default, _) in STAGE_COMMANDS.items():
    # Each command's primary config: conf/stage.yaml with the command's default recipe.
    ConfigStore.instance().store(name=_config_name(_command),
                                 node={"defaults": ["stage", {"override recipe": _default}, "_self_"]})


def list_main() -> int:
    """`rlvr recipe --list`: every recipe with its stage and description (or why it does not validate)."""
    for name in list_recipes():
        try:
            cfg = compose_recipe(name)
            print(f"{name:<28} {cfg.stage:<13} {cfg.description}")
        except (RecipeError, MixError) as exc:
            print(f"{name:<28} INVALID: {exc}")
    return 0


def stage_main(command: str) -> Callable[[list[str]], int]:
    """`rlvr <command> [recipe=NAME] [KEY=VALUE ...] [-m] [--cfg job]`."""

    def main(argv: list[str]) -> int:
        if command == "recipe" and argv[:1] == ["--list"]:
            return list_main()
        for arg in argv:
            flag = arg.split("=", 1)[0]
            if flag in RETIRED_FLAGS:
                print(f"rlvr {command}: {flag} is now the override {RETIRED_FLAGS[flag]}", file=sys.stderr)
                return 2
        return hydra_app.run(_config_name(command), _stage_task(command), argv, f"rlvr {command}",
                             check=_validated(command))

    return main


def merge_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rlvr merge", description="Average checkpoints (model souping) into a new "
                                     "Hugging Face checkpoint; config and tokenizer come from the first.")
    parser.add_argument("checkpoints", nargs="+", help="two or more checkpoint directories of one architecture")
    parser.add_argument("--weights", type=float, nargs="+", help="one weight per checkpoint (normalised; default uniform)")
    parser.add_argument("-o", "--output", required=True, help="directory of the merged checkpoint")
    args = parser.parse_args(argv)
    from rlvr.recipes.merge import MergeError, merge_checkpoints  # imports torch: only when merging

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
    try:
        if args.source:
            if not args.eval:
                raise RecipeError("--source needs at least one --eval set")
            return _decontaminate_files(args)
        name, overrides = split_recipe(args.overrides, "tiny_midtrain")
        cfg = compose_recipe(name, overrides)
        d = cfg.decontamination
        decon = build_decontaminator(args.eval or d.eval_sets, args.n or d.n, d.drop, d.eval_split, d.eval_size)
        # transformers and the cache's runners are heavy: imported only when a mix is checked.
        from transformers import AutoTokenizer

        from rlvr.recipes.cache import built_start

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


COMMANDS: dict[str, Callable[[list[str]], int]] = {name: stage_main(name) for name in STAGE_COMMANDS}
COMMANDS.update({"merge": merge_main, "decontaminate": decontaminate_main})
