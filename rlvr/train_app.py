"""`rlvr train`, a Hydra app over conf/config.yaml, and `rlvr pretrain` (the cached tiny base)."""
from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from rlvr import hydra_app
from rlvr.config import TrainConfig, register_configs, to_dataclass
from rlvr.lifecycle import RunStopped, SignalGuard, check_run_dir, shutdown_ray

log = logging.getLogger("rlvr")
register_configs()


def train(cfg: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Run one experiment into `run_dir`; returns the summary (also written to summary.json).

    Raises RunStopped (rlvr/lifecycle.py) when the run directory cannot hold the run (before anything
    starts), on SIGINT/SIGTERM (at a step boundary) and when a learner worker dies; Ray is shut down first.
    """
    check_run_dir(run_dir, cfg.min_free_gb)  # before Ray, vLLM or the learner start
    with SignalGuard() as guard:
        try:
            summary = _train(cfg, run_dir, guard)
        except RunStopped:
            shutdown_ray()
            raise
    log.info("eval accuracy %.3f -> %.3f; run dir %s", summary["eval/accuracy_start"], summary["eval/accuracy_end"], run_dir)
    return summary


def _train(cfg: TrainConfig, run_dir: Path, guard: SignalGuard) -> dict[str, Any]:
    # The trainer and the base builder import vLLM, torch and Ray: only when a run starts, so --help stays fast.
    from rlvr.learner.group import WorkerDied
    from rlvr.placement import init_ray
    from rlvr.pretrain import ensure_base_checkpoint
    from rlvr.trainer import Trainer, cpus_needed

    # Start Ray sized for the whole run before a base build could start it smaller.
    init_ray(cfg.ray.address, cfg.ray.num_cpus, cpus_needed(cfg))
    guard.arm()  # ray.init replaced the SIGTERM handler with its own
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    model_path = cfg.model.path or ensure_base_checkpoint(cfg.model.base)
    trainer = Trainer(cfg, run_dir, model_path, guard=guard)
    try:
        summary = trainer.run()
    except WorkerDied as exc:
        every = getattr(getattr(cfg, "checkpoint", None), "every", 0)
        saved = "" if every > 0 else " (this run saved no checkpoint, checkpoint.every=0: it starts over)"
        raise RunStopped(f"{exc}; the run stopped. Resume it with{saved}: {resume_command(cfg, run_dir)}") from None
    finally:
        trainer.close()
    summary["model"] = model_path
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def resume_command(cfg: TrainConfig, run_dir: Path) -> str:
    """The `rlvr train` command line that resumes this run in `run_dir`: its own overrides, the run
    directory and checkpoint.resume=auto."""
    try:
        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:  # called outside a Hydra app
        overrides = []
    drop = ("output_dir", "checkpoint.resume")
    keep = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in drop]
    where = f"output_dir={run_dir}" if cfg.output_dir else f"hydra.run.dir={run_dir}"
    return shlex.join(["rlvr", "train", *keep, where, "checkpoint.resume=auto"])


def task(dcfg: DictConfig) -> float:
    """The Hydra task: one run; returns the final eval accuracy (what a sweeper would optimise)."""
    cfg = to_dataclass(dcfg)
    run_dir = Path(cfg.output_dir) if cfg.output_dir else Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = train(cfg, run_dir)
    except RunStopped as exc:  # one line and its exit code (130 SIGINT, 143 SIGTERM), not a traceback
        print(f"rlvr train: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(exc.exit_code) from None
    print(json.dumps({k: summary[k] for k in ("eval/accuracy_start", "eval/accuracy_end", "run_dir")}))
    return float(summary["eval/accuracy_end"])


def main(argv: list[str]) -> int:
    """`rlvr train [KEY=VALUE ...] [-m] [--cfg job] [hydra.run.dir=...]`."""
    return hydra_app.run("config", task, argv, "rlvr train")


def compose(overrides: list[str]) -> TrainConfig:
    """The TrainConfig `rlvr train <overrides>` would run, without running it."""
    return to_dataclass(hydra_app.compose("config", overrides))


def pretrain_main(args: list[str]) -> int:
    """rlvr pretrain [overrides]: build or find the cached base checkpoint; print its path."""
    if args and args[0] in ("-h", "--help"):
        print("usage: rlvr pretrain [model.base.KEY=VALUE ...]  (see conf/config.yaml, rlvr/config.py:BaseModelConfig)")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from rlvr.pretrain import ensure_base_checkpoint  # torch and Ray: only when a base is looked up

    print(ensure_base_checkpoint(compose(args).model.base))
    return 0
