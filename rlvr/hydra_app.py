"""The one way into Hydra: `run` starts an `rlvr` command as a Hydra app, `compose` builds the same config in code.

Every Hydra command is a task function over a primary config in conf/ (config.yaml: `rlvr train`;
stage.yaml: the recipe stages; pipeline.yaml: `rlvr pipeline`), so overrides, `-m` multirun,
`--cfg job`, `--help`, `hydra.run.dir`/`hydra.sweep.dir` and launchers work the same in each.
Schemas are put into Hydra's ConfigStore by the module that defines them, before either call.
"""
from __future__ import annotations

import hashlib
import sys
from typing import Any, Callable

import hydra
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from rlvr.paths import CONF_DIR



def short_dirname(name: str, limit: int = 120) -> str:
    """A multirun job's subdirectory name kept under the file-name limit (255 bytes): the overrides of a
    long sweep (`rlvr train -m seed=0,1 a=... b=...`) are cut and end in a hash of the whole, so each job's
    directory stays distinct and still reads as its overrides (the full list is in its .hydra/overrides.yaml)."""
    if len(name.encode()) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return name.encode()[: limit - 11].decode(errors="ignore") + "_" + digest


# conf/*.yaml name sweep subdirectories `${hydra.job.num}_${rlvr_dirname:${hydra.job.override_dirname}}`
OmegaConf.register_new_resolver("rlvr_dirname", short_dirname, replace=True)

# A --cfg check: composes the overrides and validates beyond types; returns (exit code, text printed after the config).
Check = Callable[[list[str]], "tuple[int, str]"]


def run(config_name: str, task: Callable[[DictConfig], Any], argv: list[str], prog: str,
        check: Check | None = None) -> int:
    """Run `task` as `prog argv` (a Hydra command line); returns the exit code.

    Hydra's `--cfg job` prints the composed config without calling the task, so a command whose
    configs need more than type checks (the recipes: mix files, worker counts) passes `check`,
    which runs first and can refuse the config.
    """
    footer = ""
    if check is not None:
        try:  # Hydra's own parser, so argv reads exactly as the app will read it
            args = get_args_parser().parse_args(argv)
        except SystemExit as exc:
            return _code(exc)
        if args.cfg in ("job", "all") and not args.multirun:
            code, footer = check(list(args.overrides))
            if code:
                return code
    app = hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")(task)
    saved, sys.argv = sys.argv, [prog, *argv]
    try:
        app()
    except SystemExit as exc:  # Hydra exits on --help and on errors it reports
        return _code(exc)
    finally:
        sys.argv = saved
    if footer:
        print(footer)
    return 0


def _code(exc: SystemExit) -> int:
    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    """conf/<config_name>.yaml with `overrides`, as `run` would give it to the task (no hydra node).

    Works inside a running Hydra app too (a stage that starts from recipe:NAME composes that recipe,
    the pipeline composes the RL config): the app's Hydra instance is set aside and put back.
    """
    outer = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with hydra.initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra.compose(config_name=config_name, overrides=list(overrides))
    finally:
        if outer is not None:
            GlobalHydra.instance().clear()
            GlobalHydra.instance().initialize(outer)
