"""`rlvr train`, a Hydra app over conf/config.yaml, and `rlvr pretrain` (the cached tiny base)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from rlvr import hydra_app
from rlvr.config import TrainConfig, register_configs, to_dataclass

log = logging.getLogger("rlvr")
register_configs()


def train(cfg: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Run one experiment into `run_dir`; returns the summary (also written to summary.json)."""
    # The trainer and the base builder import vLLM, torch and Ray: only when a run starts, so --help stays fast.
    from rlvr.placement import init_ray
    from rlvr.pretrain import ensure_base_checkpoint
    from rlvr.trainer import Trainer, cpus_needed

    run_dir.mkdir(parents=True, exist_ok=True)
    # Start Ray sized for the whole run before a base build could start it smaller.
    init_ray(cfg.ray.address, cfg.ray.num_cpus, cpus_needed(cfg))
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    model_path = cfg.model.path or ensure_base_checkpoint(cfg.model.base)
    trainer = Trainer(cfg, run_dir, model_path)
    try:
        summary = trainer.run()
    finally:
        trainer.close()
    summary["model"] = model_path
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info("eval accuracy %.3f -> %.3f; run dir %s", summary["eval/accuracy_start"], summary["eval/accuracy_end"], run_dir)
    return summary


def task(dcfg: DictConfig) -> float:
    """The Hydra task: one run; returns the final eval accuracy (what a sweeper would optimise)."""
    cfg = to_dataclass(dcfg)
    run_dir = Path(cfg.output_dir) if cfg.output_dir else Path(HydraConfig.get().runtime.output_dir)
    summary = train(cfg, run_dir)
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
