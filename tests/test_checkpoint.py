"""The checkpoint protocol (rlvr/checkpoint.py) without Ray: atomic commit, `latest`, pruning, config
compatibility, metrics continuation, and the state round trips of the driver's parts."""
from __future__ import annotations

import dataclasses
import json
import pickle
from types import SimpleNamespace

import pytest

from rlvr.algorithms.length_schedule import LengthSchedule
from rlvr.algorithms.sampling import PromptRetirement
from rlvr.checkpoint import (COMPLETE, check_compatible, complete_checkpoints, config_changes, find_latest,
                             resolve_resume, truncate_jsonl, write_checkpoint)
from rlvr.config import TrainConfig
from rlvr.metrics import MetricsLogger, read_metrics
from rlvr.rollout.streaming import GroupStream
from rlvr.data.sampler import PromptSampler
from rlvr.types import Group, GroupRequest, Sample


def _writer(text: str):
    def write(tmp):
        (tmp / "state.txt").write_text(text)
    return write


def test_commit_is_atomic_latest_names_the_newest_and_old_ones_go(tmp_path):
    for step in (1, 2, 3):
        path = write_checkpoint(tmp_path, step, _writer(str(step)), keep_last=2)
        assert path.name == f"step_{step}" and (path / COMPLETE).is_file()
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["step_2", "step_3"]
    assert (tmp_path / "latest").read_text().strip() == "step_3"

    def crash(tmp):  # a kill half-way through writing step 4
        (tmp / "part").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(tmp_path, 4, crash, keep_last=2)
    assert (tmp_path / ".step_4.tmp" / "part").exists()
    assert find_latest(tmp_path).name == "step_3" and resolve_resume("auto", tmp_path).name == "step_3"
    # the next save at that step clears the leftover; saving a step again replaces it
    write_checkpoint(tmp_path, 4, _writer("4"), keep_last=2)
    write_checkpoint(tmp_path, 4, _writer("again"), keep_last=2)
    assert not (tmp_path / ".step_4.tmp").exists() and (tmp_path / "step_4" / "state.txt").read_text() == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "step_3", "step_4"]


def test_resume_modes(tmp_path):
    assert resolve_resume("", tmp_path) is None
    assert resolve_resume("auto", tmp_path / "none") is None  # nothing saved yet: a fresh start
    (tmp_path / "step_5").mkdir()
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        resolve_resume(str(tmp_path / "step_5"), tmp_path)
    # a directory renamed before `latest` was updated (kill in between) still counts
    (tmp_path / "step_5" / COMPLETE).write_text("5")
    assert resolve_resume("auto", tmp_path).name == "step_5"


def test_a_changed_setting_is_refused_by_name_and_bookkeeping_is_not():
    saved = dataclasses.asdict(TrainConfig())
    ok = TrainConfig(steps=80, progress=False, logger=["jsonl"], output_dir="elsewhere")
    ok.checkpoint.every, ok.eval.every, ok.learner.num_workers, ok.ray.num_cpus = 5, 3, 4, 8
    assert config_changes(saved, dataclasses.asdict(ok)) == []
    bad = TrainConfig(seed=1)
    bad.rollout.group_size, bad.algorithm.name, bad.learner.lr = 4, "grpo", 1e-3
    assert config_changes(saved, dataclasses.asdict(bad)) == ["algorithm.name", "learner.lr", "rollout.group_size",
                                                               "seed"]
    with pytest.raises(ValueError, match=r"rollout.group_size: 8 -> 4"):
        check_compatible(saved, dataclasses.asdict(bad), "ckpt")


def test_metrics_continue_after_the_checkpoint_step(tmp_path):
    lines = [{"step": 0, "eval/accuracy": 0.1}, {"step": 1, "x": 1}, {"step": 2, "x": 2}, {"step": 2, "eval/accuracy": 0.2},
             {"step": 3, "x": 3}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines) + '{"step": 4, "x')  # torn
    assert truncate_jsonl(tmp_path / "metrics.jsonl", 2) == 4
    logger = MetricsLogger(tmp_path, ["jsonl", "tensorboard"], resume_step=1)  # TensorBoard purges after step 1
    logger.log({"step": 2, "x": 2.5})
    logger.close()
    assert read_metrics(tmp_path / "metrics.jsonl") == lines[:2] + [{"step": 2, "x": 2.5}]


def test_prompt_sampler_position_round_trips_across_epochs_with_retirement():
    rows = [SimpleNamespace(id=i) for i in range(5)]

    def sampler():
        retirement = PromptRetirement(threshold=1.0, scope="run")
        return PromptSampler(SimpleNamespace(rows=rows), seed=3, retirement=retirement), retirement

    a, ret_a = sampler()
    a.take(3)
    ret_a.retire([1, 2], [1.0, 0.5])
    state = pickle.loads(pickle.dumps((a.state_dict(), ret_a.state_dict())))
    b, ret_b = sampler()
    b.load_state_dict(state[0])
    ret_b.load_state_dict(state[1])
    assert [r.id for r in a.take(12)] == [r.id for r in b.take(12)]  # crosses two epoch boundaries
    assert ret_a.state_dict() == ret_b.state_dict() and a.epoch == b.epoch >= 2


def test_length_schedule_stage_round_trips():
    stages = [{"max_tokens": 8, "until_step": 2}, {"max_tokens": 16}]
    a = LengthSchedule(stages, 8, 0.2, 0.28)
    a.update(2)
    b = LengthSchedule(stages, 8, 0.2, 0.28)
    b.load_state_dict(a.state_dict())
    assert (b.index, b.max_tokens) == (1, 16)
    with pytest.raises(ValueError, match="stage 5 of 2"):
        b.load_state_dict({"index": 5})


def test_persisted_stream_buffer_hands_over_the_same_groups():
    def group(uid, step):
        req = GroupRequest("p", "q", [1], "1", "math", step, 1, 4, uid=uid)
        return Group(req, [Sample("p", [1], [2, 3], "ab", [-0.5, -0.25], "stop")], version=step)

    stream = GroupStream(source=None, async_steps=1)
    stream.buffer = {3: [group(7, 3), group(6, 3)]}
    stream.stale_dropped = 2
    saved = pickle.loads(pickle.dumps({"buffer": stream.buffer, "stale_dropped": stream.stale_dropped}))
    restored = GroupStream(source=None, async_steps=1)
    restored.buffer, restored.stale_dropped = saved["buffer"], saved["stale_dropped"]
    assert list(restored.arrivals(3, 2)) == list(stream.arrivals(3, 2)) and restored.stale_dropped == 2
