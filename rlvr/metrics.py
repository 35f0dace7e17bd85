"""Run outputs: the metrics line of an RL step (`step_metrics`) and where lines go (`MetricsLogger`: metrics.jsonl,
TensorBoard, W&B, MLflow; one sink class per backend)."""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from rlvr.algorithms.sampling import zero_std_mask
from rlvr.checkpoint import truncate_jsonl

if TYPE_CHECKING:
    from rlvr.rewards import StepBatch


def _mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))


def step_metrics(step: int, batch: StepBatch, learner: dict[str, float], rollout: dict[str, float], *,
                 learn_s: float, sync_s: float, stale_dropped: int, version: int, stage: tuple[int, int],
                 next_stage: tuple[int, int] | None, kl_ref: bool, repetition: bool) -> dict[str, Any]:
    """The metrics.jsonl line of RL step `step` (1-based), before the probe's `rollout/logprob_gap`.

    `learner`: the summed stats of the step's train_step calls (per-token sums become means here);
    `rollout`: generated tokens, generation seconds and sampling tries; `stage`: (index, max_tokens) of
    the length stage the step ran in; `next_stage`: the stage it moved to, when it moved.
    """
    samples = batch.all_samples
    lengths = [len(s.response_ids) for s in samples]
    rewards = [r for g in batch.scored for r in g.rewards]
    group_ids = [gi for gi, g in enumerate(batch.scored) for _ in g.rewards]
    zero_std = zero_std_mask(torch.tensor(rewards, dtype=torch.float64), torch.tensor(group_ids, dtype=torch.long))
    tokens = max(1.0, learner.get("tokens", 0.0))
    clip_low, clip_high = learner.get("clip_low", 0.0), learner.get("clip_high", 0.0)
    line: dict[str, Any] = {
        "step": step,
        "train/reward_mean": _mean(rewards),
        "train/accuracy": _mean([float(c) for g in batch.scored for c in g.correct]),
        "train/zero_std_frac": float(zero_std.sum()) / max(1, len(batch.scored)),
        "train/groups": len(batch.kept),
        "train/verifier_errors": sum(e is not None for g in batch.scored for e in g.errors),
        "rollout/tokens_per_s": rollout["tokens"] / max(1e-9, rollout["seconds"]),
        "rollout/truncation_rate": batch.truncation_rate,
        "rollout/stale_dropped": stale_dropped,
        "rollout/sampling_tries": rollout["tries"],
        "learner/tokens_per_s": learner.get("input_tokens", 0.0) / max(1e-9, learn_s),
        "learner/samples_per_s": len(batch.samples) / max(1e-9, learn_s),
        "loss/clip_frac": (clip_low + clip_high) / tokens,
        "loss/clip_low_frac": clip_low / tokens,
        "loss/clip_high_frac": clip_high / tokens,
        "loss/tis_weight_mean": learner.get("tis_weight", tokens) / tokens,
        "loss/tis_clipped_frac": learner.get("tis_clipped", 0.0) / tokens,
        "loss/entropy": learner.get("entropy", 0.0) / tokens,
        "loss/approx_kl": learner.get("approx_kl_old", 0.0) / tokens,
        "loss/grad_norm": learner.get("grad_norm", 0.0),
        "learner/lr": learner.get("lr", 0.0),
        "response/length_mean": _mean(lengths),
        "response/length_max": max(lengths, default=0),
        "response/length_min": min(lengths, default=0),
        "algo/stage": stage[0],
        "algo/max_tokens": stage[1],
        # what the engines were actually asked for (dispatch runs ahead by async_steps)
        "rollout/max_tokens": max((g.group.request.max_tokens for g in batch.scored), default=0),
        "time/sync_s": sync_s,
        "policy/version": version,
    }
    if kl_ref:
        line["loss/kl_ref"] = learner.get("kl_ref", 0.0) / tokens
    if repetition:
        line["reward/repetition_penalty_mean"] = _mean([p for g in batch.scored for p in g.repetition_penalty])
    if next_stage is not None:
        line["algo/stage_changed_to"], line["algo/next_max_tokens"] = next_stage
    return line


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a metrics line, without `step` (what TensorBoard, W&B and MLflow can plot)."""
    return {k: float(v) for k, v in record.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _need(package: str, sink: str, extra: str = "") -> Any:
    """Import the package a selected sink needs, or say which `logger=` entry asked for it."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:
        hint = f"pip install 'rlvr[{extra}]'" if extra else f"pip install {package}"
        raise ImportError(f"logger=[..., {sink}] needs the {package!r} package, which is not installed ({hint}); "
                          f"or leave {sink} out of logger=") from exc


class JsonlSink:
    """metrics.jsonl: every line as logged (non-finite floats as null); the file `rlvr plot` reads."""

    def __init__(self, run_dir: Path, config: dict[str, Any], tracker: Any, resume_step: int | None = None) -> None:
        if resume_step is not None:  # a resumed run: drop what the killed run logged after its checkpoint
            truncate_jsonl(run_dir / "metrics.jsonl", resume_step)
        self._file = (run_dir / "metrics.jsonl").open("a", encoding="utf-8")

    def log(self, record: dict[str, Any], step: int) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._file.write(json.dumps(clean, sort_keys=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class TensorBoardSink:
    """TensorBoard events under <run>/tensorboard; the resolved config as a text summary."""

    def __init__(self, run_dir: Path, config: dict[str, Any], tracker: Any, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: TensorBoard hides the events a killed run wrote after the checkpoint it resumes from
        purge = None if resume_step is None else resume_step + 1
        self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=purge)
        if config:
            self._tb.add_text("config", "```\n" + json.dumps(config, indent=2, default=str) + "\n```", 0)

    def log(self, record: dict[str, Any], step: int) -> None:
        for k, v in _scalars(record).items():
            self._tb.add_scalar(k, v, step)
        self._tb.flush()

    def close(self) -> None:
        self._tb.close()


class WandbSink:
    """A W&B run in <run>/wandb (offline: tracker.wandb_mode=offline or WANDB_MODE=offline; `wandb sync` uploads it)."""

    def __init__(self, run_dir: Path, config: dict[str, Any], tracker: Any, resume_step: int | None = None) -> None:
        wandb = _need("wandb", "wandb")
        # Our own Run object, not the module-level one: a process may hold runs of several loggers.
        self._run = wandb.init(project=tracker.project, name=tracker.name or run_dir.name, dir=str(run_dir),
                               config=config, mode=tracker.wandb_mode or None, reinit="create_new")

    def log(self, record: dict[str, Any], step: int) -> None:
        values = _scalars(record)
        if values:  # eval lines share the step of the train line before them: W&B merges them into one row
            self._run.log(values, step=step)

    def close(self) -> None:
        self._run.finish()


def mlflow_name(key: str) -> str:
    """A metric name MLflow accepts (alphanumerics, _ - . space : /): eval/pass@4 -> eval/pass_at_4."""
    return re.sub(r"[^\w\-. :/]", "_", key.replace("@", "_at_"))


class MlflowSink:
    """An MLflow run (default: a sqlite store and artifacts in <run>/mlflow); config as params and config.json.
    Metric names are those of metrics.jsonl, except the characters MLflow refuses (`mlflow_name`)."""

    def __init__(self, run_dir: Path, config: dict[str, Any], tracker: Any, resume_step: int | None = None) -> None:
        _need("mlflow", "mlflow", extra="tracking")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        store = (run_dir / "mlflow").resolve()
        store.mkdir(parents=True, exist_ok=True)
        self.uri = tracker.mlflow_uri or f"sqlite:///{store / 'mlflow.db'}"
        self._client = MlflowClient(tracking_uri=self.uri)
        found = self._client.get_experiment_by_name(tracker.project)
        experiment = found.experiment_id if found else self._client.create_experiment(
            tracker.project, artifact_location=None if tracker.mlflow_uri else (store / "artifacts").as_uri())
        self.run_id = self._client.create_run(experiment, run_name=tracker.name or run_dir.name).info.run_id
        params = [Param(k, str(v)[:6000]) for k, v in _flatten(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self._client.log_batch(self.run_id, params=params[i:i + 100])
        self._client.log_dict(self.run_id, config, "config.json")

    def log(self, record: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(mlflow_name(k), v, now, step) for k, v in _scalars(record).items()]
        if metrics:
            self._client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        self._client.set_terminated(self.run_id)


SINKS = {"jsonl": JsonlSink, "tensorboard": TensorBoardSink, "wandb": WandbSink, "mlflow": MlflowSink}


class MetricsLogger:
    """Each metrics line goes to every sink named in `logger=` (rlvr/config.py:TrainConfig.logger).

    `config` is the run's resolved config (a plain dict), attached where the backend has a place for it;
    `tracker` is a TrackerConfig (project, run name, W&B mode, MLflow URI). A sink's package is imported
    only when the sink is selected. `resume_step`: a run resumed after that step continues metrics.jsonl
    (lines after it dropped) and TensorBoard (events after it purged) without duplicates; W&B and MLflow
    start a new run.
    """

    def __init__(self, run_dir: str | Path, loggers: Sequence[str] = ("jsonl", "tensorboard"),
                 config: dict[str, Any] | None = None, tracker: Any = None, resume_step: int | None = None):
        from rlvr.config import TrackerConfig

        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"
        unknown = [name for name in loggers if name not in SINKS]
        if unknown:
            raise ValueError(f"logger={list(loggers)}: unknown {unknown}; choose from {', '.join(SINKS)}")
        self.sinks: list[Any] = []
        try:
            for name in dict.fromkeys(loggers):
                self.sinks.append(SINKS[name](self.run_dir, dict(config or {}), tracker or TrackerConfig(),
                                              resume_step=resume_step))
        except BaseException:
            self.close()
            raise

    def log(self, record: dict[str, Any]) -> None:
        step = int(record.get("step", 0))
        for sink in self.sinks:
            sink.log(record, step)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.sinks = []


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a metrics.jsonl; a line that is not a JSON object is a ValueError naming the file and line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}: line {number} is not a JSON object")
            out.append(record)
    return out
