"""MetricsLogger's sinks, each read back from what its backend wrote: metrics.jsonl, TensorBoard events, a W&B
offline run (its .wandb transaction log) and an MLflow local store (through MLflow's own client)."""
from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

import pytest

from rlvr.config import TrackerConfig
from rlvr.metrics import MetricsLogger, read_metrics

CONFIG = {"seed": 3, "rollout": {"group_size": 4, "stop": ["\n\n"]}, "algorithm": {"name": "olmorl"}}
LINES = [
    {"step": 0, "eval/accuracy": 0.25, "eval/pass@4": 0.5},
    {"step": 1, "train/reward_mean": 0.5, "loss/clip_frac": 0.125, "rollout/logprob_gap": float("nan")},
    {"step": 2, "train/reward_mean": 0.75, "loss/clip_frac": 0.0},
    {"step": 2, "eval/accuracy": 0.5},
]


def _log(run_dir: Path, loggers, tracker=None) -> MetricsLogger:
    logger = MetricsLogger(run_dir, loggers, CONFIG, tracker)
    for line in LINES:
        logger.log(dict(line))
    logger.close()
    return logger


def test_jsonl_and_tensorboard(tmp_path):
    _log(tmp_path, ["jsonl", "tensorboard"])
    lines = read_metrics(tmp_path / "metrics.jsonl")
    assert lines[1]["rollout/logprob_gap"] is None  # non-finite floats are written as null
    assert [m["step"] for m in lines] == [0, 1, 2, 2]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    assert [(s.step, s.value) for s in events.Scalars("train/reward_mean")] == [(1, 0.5), (2, 0.75)]
    assert "rollout/logprob_gap" not in events.Tags()["scalars"]  # NaN never reaches TensorBoard
    assert "config/text_summary" in events.Tags()["tensors"]


def test_only_the_selected_sinks_write(tmp_path):
    _log(tmp_path, ["jsonl"])
    assert (tmp_path / "metrics.jsonl").exists()
    assert not (tmp_path / "tensorboard").exists() and not (tmp_path / "wandb").exists()


def _wandb_records(path: Path) -> list[bytes]:
    """The records of a W&B transaction log: a 7-byte header, then LevelDB-log blocks of 32 KiB whose records
    are (crc32c:4, length:2 little-endian, type:1, data); types 1 full, 2 first, 3 middle, 4 last."""
    data, block, records, pending = path.read_bytes(), 32768, [], b""
    assert data[:4] == b":W&B", path
    pos = 7
    while pos + 7 <= len(data):
        room = block - pos % block
        if room < 7:  # a block's tail too short for a header is padding
            pos += room
            continue
        length, kind = struct.unpack("<HB", data[pos + 4:pos + 7])
        if (kind == 0 and length == 0) or pos + 7 + length > len(data):  # the end, or a record still being written
            break
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            records.append(pending)
    return records


def _finished_run(path: Path, wait_s: float = 60.0) -> list:
    """The run's records once its exit record is there: W&B's service process writes the log behind
    `finish()`, so a read right after it can see part of the run."""
    from wandb.proto import wandb_internal_pb2 as pb

    deadline = time.time() + wait_s
    while True:
        records = []
        for raw in _wandb_records(path):
            records.append(pb.Record())
            records[-1].ParseFromString(raw)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.time() > deadline:
            return records
        time.sleep(0.5)


def test_wandb_offline_run_holds_metrics_and_config(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    _log(tmp_path, ["jsonl", "wandb"], TrackerConfig(project="p", name="run-a", wandb_mode="offline"))
    [log_file] = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    history: dict[int, dict[str, float]] = {}
    config: dict[str, object] = {}
    project = None
    for record in _finished_run(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            project = record.run.project
            config.update({u.key: json.loads(u.value_json) for u in record.run.config.update})
        elif kind == "config":
            config.update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            history.setdefault(int(items.pop("_step")), {}).update(
                {k: v for k, v in items.items() if not k.startswith("_")})
    assert project == "p"
    assert config["seed"] == 3 and config["rollout"] == {"group_size": 4, "stop": ["\n\n"]}
    assert history[1] == {"train/reward_mean": 0.5, "loss/clip_frac": 0.125}
    # the eval line at step 2 joins step 2's row; step 0 is the eval before training
    assert history[2] == {"train/reward_mean": 0.75, "loss/clip_frac": 0.0, "eval/accuracy": 0.5}
    assert history[0] == {"eval/accuracy": 0.25, "eval/pass@4": 0.5}


def test_mlflow_local_store_read_back_by_its_client(tmp_path):
    tracker = TrackerConfig(project="exp", name="run-b")
    _log(tmp_path, ["mlflow"], tracker)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(tmp_path / 'mlflow' / 'mlflow.db').resolve()}")
    [run] = client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    assert run.info.run_name == "run-b" and run.info.status == "FINISHED"
    history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train/reward_mean")]
    assert sorted(history) == [(1, 0.5), (2, 0.75)]
    assert sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "eval/accuracy")) == [
        (0, 0.25), (2, 0.5)]
    assert client.get_metric_history(run.info.run_id, "rollout/logprob_gap") == []
    # MLflow refuses "@" in a name: eval/pass@4 is logged as eval/pass_at_4
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "eval/pass_at_4")] == [(0, 0.5)]
    assert run.data.params["seed"] == "3" and run.data.params["rollout.group_size"] == "4"
    config = json.loads(Path(client.download_artifacts(run.info.run_id, "config.json", str(tmp_path))).read_text())
    assert config == CONFIG
    assert (tmp_path / "mlflow" / "artifacts").is_dir()  # everything stays under the run dir


def test_a_missing_tracker_package_names_the_logger_key(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now raises ImportError
    with pytest.raises(ImportError, match=r"logger=\[\.\.\., wandb\] needs the 'wandb' package"):
        MetricsLogger(tmp_path, ["jsonl", "wandb"], CONFIG)


def test_logger_names_are_checked_when_the_config_is_composed():
    from rlvr.train_app import compose

    assert compose([]).logger == ["jsonl", "tensorboard"]
    assert compose(["logger=[jsonl,wandb,mlflow]"]).logger == ["jsonl", "wandb", "mlflow"]
    with pytest.raises(ValueError, match="logger='neptune' is not allowed"):
        compose(["logger=[jsonl,neptune]"])
