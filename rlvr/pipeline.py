"""`rlvr pipeline`: base -> midtrain -> RL-Zero from each, on the tiny synthetic setup, with one table.

    rlvr pipeline [base.KEY=V ...] [midtrain.KEY=V ...] [rl.KEY=V ...] [fresh=true] [output_dir=DIR]
    rlvr pipeline -m midtrain.data.mix=tiny_midtrain,other_mix rl.seed=0,1     # Hydra multirun

A Hydra app over conf/pipeline.yaml: `base` is the tiny_pretrain recipe and `midtrain` the tiny_midtrain
recipe (both typed RecipeConfigs, so a mistyped key is an error), and `rl.*` are `rlvr train` overrides
(conf/config.yaml) passed on as written. Stages are cached by their config (a rerun that changes only
the RL settings reuses the base and the midtrained checkpoint); fresh=true rebuilds them inside the
output directory. `-m` runs one pipeline per combination of comma-separated values, each in its own
sweep subdirectory: change a data mix, retrain, rerun RL-Zero in one command.

Accuracy columns: "stage eval" is greedy decoding with transformers on the 200 held-out prompts
`rlvr train` evaluates on; "RL start"/"RL end" are the trainer's own evals (greedy, vLLM) before and
after RL-Zero, on the same prompts.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import field
from pathlib import Path
from typing import Any, Dict

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from rlvr import hydra_app
from rlvr.placement import init_ray
from rlvr.recipes.cache import resolve_start, run_cached, runner_for
from rlvr.recipes.config import RecipeConfig, recipe_from
from rlvr.train_app import compose, train

# RL-Zero runs at `rlvr train`'s defaults (steps, learning rate, batch), with 64-token budgets: the midtrained
# model answers with a one-line explanation (43-53 tokens), which the default experiment's 32 would truncate to a
# score of 0 (issue 10); both RL-Zero runs use the same budgets.
RL_DEFAULTS = ["progress=false", "rollout.max_tokens=64", "eval.max_tokens=64"]
RL_OVERRIDE = re.compile(r"^([+~]*)rl\.(.+)$")


@dataclasses.dataclass
class PipelineConfig:
    base: RecipeConfig = field(default_factory=RecipeConfig)  # the base stage (recipe@base in conf/pipeline.yaml)
    midtrain: RecipeConfig = field(default_factory=RecipeConfig)  # midtrained from the base (model.path is set here)
    rl: Dict[str, Any] = field(default_factory=dict)  # `rlvr train` overrides for both RL-Zero runs, as given
    fresh: bool = False  # rebuild the base and midtrained stages inside the output directory (no cache)
    output_dir: str = ""  # where the pipeline writes; empty: Hydra's run (or sweep) directory


_schema = OmegaConf.structured(PipelineConfig)
OmegaConf.set_struct(_schema.rl, False)  # rl.* are the trainer's keys, checked when its config is composed
ConfigStore.instance().store(name="rlvr_pipeline_schema", node=_schema)


def rl_overrides(task_overrides: list[str]) -> list[str]:
    """The `rlvr train` overrides among a pipeline job's overrides (rl.KEY=V -> KEY=V)."""
    return [m.group(1) + m.group(2) for m in map(RL_OVERRIDE.match, task_overrides) if m]


def _stage(cfg: RecipeConfig, fresh_dir: Path | None) -> dict[str, Any]:
    if fresh_dir is not None:
        return runner_for(cfg)(cfg, resolve_start(cfg.model.path), fresh_dir)
    return run_cached(cfg)


def _rl(model_path: str, overrides: list[str], run_dir: Path) -> dict[str, Any]:
    cfg = compose(RL_DEFAULTS + overrides)
    # Set on the config, not written as overrides: a multirun job's directory is named after its overrides
    # (`0_rl.seed=0`), and a path with '=' in it is not a valid override value.
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, path=model_path), output_dir=str(run_dir))
    return train(cfg, run_dir)


def run_pipeline(base_cfg: RecipeConfig, mid_cfg: RecipeConfig, rl: list[str], out: Path,
                 fresh: bool = False) -> dict[str, Any]:
    """Build the base, midtrain it, run RL-Zero from both; returns (and writes) the summary with its table."""
    out.mkdir(parents=True, exist_ok=True)
    compose(RL_DEFAULTS + rl)  # a bad RL override fails now, not after the stages are built
    times: dict[str, float] = {}
    started = time.time()
    init_ray(needed_cpus=5)  # room for every stage's placement (learners, engine) in one local cluster

    t = time.time()
    base = _stage(base_cfg, out / "base" if fresh else None)
    times["base"] = time.time() - t

    t = time.time()
    mid_cfg = dataclasses.replace(mid_cfg, model=dataclasses.replace(mid_cfg.model, path=base["final"]))
    mid = _stage(mid_cfg, out / "midtrain" if fresh else None)
    times["midtrain"] = time.time() - t

    runs: dict[str, dict[str, Any]] = {}
    for name, path in (("base", base["final"]), ("midtrained", mid["final"])):
        t = time.time()
        runs[name] = _rl(path, rl, out / f"rl_zero_from_{name}")
        times[f"rl_zero_from_{name}"] = time.time() - t
    times["total"] = time.time() - started
    summary = {"output_dir": str(out), "rl_overrides": rl, "times_s": {k: round(v, 1) for k, v in times.items()},
               "base": _stage_summary(base), "midtrained": _stage_summary(mid),
               "rl_zero": {k: {"start": v["eval/accuracy_start"], "end": v["eval/accuracy_end"], "run_dir": v["run_dir"]}
                           for k, v in runs.items()}}
    summary["midtrained_starts_higher"] = summary["rl_zero"]["midtrained"]["start"] > summary["rl_zero"]["base"]["start"]
    summary["table"] = format_table(summary)
    (out / "pipeline_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _stage_summary(stage: dict[str, Any]) -> dict[str, Any]:
    return {"checkpoint": stage["final"], "stage_eval": stage.get("eval_final", {}).get("accuracy"),
            "manifest": str(Path(stage["final"]) / "mix_manifest.json"), "cached": bool(stage.get("cached")),
            "build_s": stage.get("seconds")}


def format_table(s: dict[str, Any]) -> str:
    def pct(x: Any) -> str:
        return f"{100 * x:6.1f}%" if isinstance(x, (int, float)) else f"{'-':>7}"

    rl = s["rl_zero"]
    rows = [
        ("base (pretrained only)", s["base"]["stage_eval"], None, None,
         "cached" if s["base"].get("cached") else s["times_s"].get("base")),
        ("midtrained", s["midtrained"]["stage_eval"], None, None,
         "cached" if s["midtrained"].get("cached") else s["times_s"].get("midtrain")),
        ("RL-Zero from base", None, rl["base"]["start"], rl["base"]["end"], s["times_s"].get("rl_zero_from_base")),
        ("RL-Zero from midtrained", None, rl["midtrained"]["start"], rl["midtrained"]["end"],
         s["times_s"].get("rl_zero_from_midtrained")),
    ]
    lines = ["arithmetic eval accuracy (200 held-out prompts, greedy)",
             f"{'stage':<26}{'stage eval':>11}{'RL start':>10}{'RL end':>10}{'time':>9}"]
    for name, stage, start, end, secs in rows:
        when = secs if isinstance(secs, str) else (f"{secs / 60:.1f}m" if secs is not None else "")
        lines.append(f"{name:<26}{pct(stage):>11}{pct(start):>10}{pct(end):>10}{when:>9}")
    verdict = "yes" if s["midtrained_starts_higher"] else "NO"
    lines.append(f"midtrained base starts RL-Zero higher than the pretrained-only base: {verdict}; "
                 f"total {s['times_s']['total'] / 60:.1f} min")
    return "\n".join(lines)


def task(composed: DictConfig) -> None:
    """The Hydra task: one pipeline per job (a multirun runs one per combination)."""
    hydra_cfg = HydraConfig.get()
    base, mid = recipe_from(composed.base, "tiny_pretrain"), recipe_from(composed.midtrain, "tiny_midtrain")
    out = Path(composed.output_dir or hydra_cfg.runtime.output_dir)
    summary = run_pipeline(base, mid, rl_overrides(list(hydra_cfg.overrides.task)), out, bool(composed.fresh))
    print("\n" + summary["table"], flush=True)


def main(argv: list[str]) -> int:
    """`rlvr pipeline [base.KEY=V] [midtrain.KEY=V] [rl.KEY=V] [fresh=true] [-m] [--cfg job]`."""
    return hydra_app.run("pipeline", task, argv, "rlvr pipeline")
