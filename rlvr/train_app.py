"""`rlvr train` as a Hydra app, and `rlvr pretrain`, over the configs in conf/."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from rlvr.config import TrainConfig, register_configs, to_dataclass
from rlvr.paths import CONF_DIR

log = logging.getLogger("rlvr")


def train(cfg: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Run one experiment into `run_dir`; returns the summary (also written to summary.json)."""
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


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_entry(dcfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    cfg = to_dataclass(dcfg)
    run_dir = Path(cfg.output_dir) if cfg.output_dir else Path(HydraConfig.get().runtime.output_dir)
    summary = train(cfg, run_dir)
    print(json.dumps({k: summary[k] for k in ("eval/accuracy_start", "eval/accuracy_end", "run_dir")}))
    return float(summary["eval/accuracy_end"])


def run_hydra(args: list[str]) -> int:
    register_configs()
    sys.argv = ["rlvr train", *args]
    _hydra_entry()
    return 0


def compose(overrides: list[str]) -> TrainConfig:
    """The TrainConfig `rlvr train <overrides>` would run, without running it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return to_dataclass(hydra_compose(config_name="config", overrides=overrides))


def pretrain_main(args: list[str]) -> int:
    """rlvr pretrain [overrides]: build or find the cached base checkpoint; print its path."""
    if args and args[0] in ("-h", "--help"):
        print("usage: rlvr pretrain [model.base.KEY=VALUE ...]  (see conf/config.yaml, rlvr/config.py:BaseModelConfig)")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from rlvr.pretrain import ensure_base_checkpoint

    cfg = compose(args)
    print(ensure_base_checkpoint(cfg.model.base))
    return 0
