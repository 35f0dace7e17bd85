"""Resumable checkpoints: the atomic directory protocol, `latest`, config compatibility, and the RL driver's state.

Layout (`rlvr train checkpoint.every=N`; the causal-LM trainer uses the same protocol under <out>/checkpoints):

    <run>/checkpoints/step_<N>/      N = optimizer steps done (RL steps, 1-based as in metrics.jsonl)
        learner/                     model + AdamW shards (torch.distributed.checkpoint), rank_<r>.pt: step count, RNG
        trainer_state.pkl            driver state (RL: `driver_state`; causal LM: data order and position)
        config.json                  the resolved config that wrote it
        COMPLETE                     written last
    <run>/checkpoints/latest         the name of the newest complete checkpoint

A checkpoint is written into `.step_<N>.tmp/`, every file fsynced, then renamed to `step_<N>/`: a
checkpoint killed half-way is a `.tmp` directory that nothing resumes from (and the next save
removes). `latest` is replaced atomically after the rename; resume takes the newest complete
directory even if a kill fell between the rename and `latest`.

Exactness (the RL driver): at a checkpoint the trainer waits for every generation already
dispatched for later steps (async_steps >= 1: those groups were sampled by an older policy and cannot be
regenerated from the saved weights) and stores the finished groups themselves, with the staleness
buffer, the sampler's position, the length stage, retired prompts, the policy version, the next request
uid and every RNG. Engines reseed from (seed, engine, first uid) before each call, so a resumed run
samples the same tokens.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import random
import re
import shutil
import signal
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"
STATE_FILE = "trainer_state.pkl"
FAULT_ENV = "RLVR_FAULT_KILL_IN_CHECKPOINT"  # testing only: SIGKILL the process group while writing step N
_STEP_DIR = re.compile(r"^step_(\d+)$")

# Keys a resume may change: they do not alter what the run computes (bookkeeping, hardware placement).
# Everything else (group size, algorithm, data, model, seed, lr, ...) must match the checkpoint's config.
# learner.num_workers reshards the saved state: weights then match to float tolerance, not bitwise.
RESUMABLE_KEYS = ("steps", "checkpoint", "logger", "tracker", "progress", "eval.every", "output_dir", "ray",
                  "save_checkpoint", "rollout_log", "learner.num_workers", "learner.cpus_per_worker",
                  "rollout.cpus_per_engine", "reward.num_workers",
                  # where and how the run executes, not what it computes (issue 11 part B, issue 13)
                  "min_free_gb", "rollout.max_engine_restarts", "rollout.weight_sync", "rollout.sync_bucket_mb",
                  "rollout.sync_timeout_s", "rollout.node_resource",
                  "learner.node_resource",
                  # numerically equivalent within float tolerance (issue 14): packing, recomputation, how LoRA reaches vLLM
                  "learner.pack", "learner.activation_checkpointing", "learner.compile", "model.lora.sync")


# ------------------------------------------------------------------ directories
def step_dir(root: Path, steps_done: int) -> Path:
    return Path(root) / f"step_{steps_done}"


def complete_checkpoints(root: Path) -> list[Path]:
    """The complete checkpoints under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / COMPLETE).is_file()]
    return [p for _, p in sorted(found)]


def find_latest(root: Path) -> Path | None:
    """The newest complete checkpoint under `root` (what `resume=auto` takes), or None."""
    done = complete_checkpoints(root)
    return done[-1] if done else None


def steps_of(path: Path) -> int:
    m = _STEP_DIR.match(Path(path).name)
    if m is None:
        raise ValueError(f"{path}: not a checkpoint directory (step_<N>)")
    return int(m.group(1))


def _fsync_tree(path: Path) -> None:
    """fsync every file and directory under `path` (data first, then the directories that name them)."""
    for dirpath, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for dirpath, _, _ in os.walk(path, topdown=False):
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fault_point(steps_done: int) -> None:
    """Testing only: with RLVR_FAULT_KILL_IN_CHECKPOINT=<steps_done>, SIGKILL this whole process group here
    (a machine lost while a checkpoint is half-written). Nothing happens otherwise."""
    if os.environ.get(FAULT_ENV) == str(steps_done):
        log.warning("%s=%d: killing the process group in the middle of a checkpoint", FAULT_ENV, steps_done)
        os.killpg(os.getpgid(0), signal.SIGKILL)


def write_checkpoint(root: Path, steps_done: int, write: Callable[[Path], None], keep_last: int) -> Path:
    """Run write(tmp_dir), then make it `root/step_<steps_done>` atomically, update `latest` and keep the last
    `keep_last` complete checkpoints. Returns the checkpoint directory."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = step_dir(root, steps_done)
    tmp = root / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # what a killed save left
    tmp.mkdir()
    write(tmp)
    (tmp / COMPLETE).write_text(f"{steps_done}\n")
    _fsync_tree(tmp)
    if final.exists():  # saved again at the same step (a signal right after a periodic save)
        old = root / f".{final.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final, old)
        shutil.rmtree(old)
    os.rename(tmp, final)
    _fsync_dir(root)
    latest_tmp = root / ".latest.tmp"
    latest_tmp.write_text(final.name + "\n")
    os.replace(latest_tmp, root / "latest")
    _fsync_dir(root)
    for stale in complete_checkpoints(root)[:-keep_last]:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def save_pickle(path: Path, obj: Any) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)  # our own checkpoint files only


# ------------------------------------------------------------------ config compatibility
def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict) or not d:
        return {prefix.rstrip("."): d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return out


def _resumable(key: str, allowed: tuple[str, ...]) -> bool:
    return any(key == a or key.startswith(a + ".") for a in allowed)


def config_changes(saved: dict[str, Any], current: dict[str, Any],
                   allowed: tuple[str, ...] = RESUMABLE_KEYS) -> list[str]:
    """The dotted keys whose values differ between two resolved configs, apart from the `allowed` ones."""
    a, b = _flatten(saved), _flatten(current)
    return sorted(k for k in set(a) | set(b) if a.get(k, "<unset>") != b.get(k, "<unset>") and not _resumable(k, allowed))


def check_compatible(saved: dict[str, Any], current: dict[str, Any], where: Path,
                     allowed: tuple[str, ...] = RESUMABLE_KEYS) -> None:
    """Refuse to resume from `where` when a setting that alters the run changed; the error names each key."""
    changed = config_changes(saved, current, allowed)
    if changed:
        a, b = _flatten(saved), _flatten(current)
        detail = "; ".join(f"{k}: {a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r}" for k in changed[:8])
        raise ValueError(f"cannot resume from {where}: {', '.join(changed)} changed ({detail}). Only "
                         f"{', '.join(allowed)} may change on resume; start a new run directory to change the others")


def resolve_resume(resume: str, root: Path) -> Path | None:
    """The checkpoint `checkpoint.resume` names: "" -> None, "auto" -> the newest complete one under `root`
    (None when there is none yet: a fresh start), else that directory, which must be complete."""
    if not resume:
        return None
    if resume == "auto":
        found = find_latest(root)
        if found is None:
            log.info("checkpoint.resume=auto: no complete checkpoint in %s, starting fresh", root)
        return found
    path = Path(resume)
    if not (path / COMPLETE).is_file():
        raise FileNotFoundError(f"checkpoint.resume={resume}: not a complete checkpoint (no {COMPLETE} file); "
                                f"complete ones under {path.parent}: {[p.name for p in complete_checkpoints(path.parent)]}")
    return path


def load_resume(path: Path, cfg: Any) -> dict[str, Any]:
    """The RL driver state saved in checkpoint `path`, after checking that `cfg` (a TrainConfig) may resume it."""
    state = load_pickle(Path(path) / STATE_FILE)
    check_compatible(state["config"], dataclasses.asdict(cfg), path)
    done = int(state["steps_done"])
    if done > cfg.steps:
        raise ValueError(f"cannot resume from {path}: it is after step {done}, past steps={cfg.steps}")
    if cfg.steps != state["config"]["steps"] and cfg.learner.lr_schedule != "constant":
        log.warning("steps changed %d -> %d on resume: the %s lr schedule now spans the new length",
                    state["config"]["steps"], cfg.steps, cfg.learner.lr_schedule)
    return state


# ------------------------------------------------------------------ RNG
def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


# ------------------------------------------------------------------ the RL driver
def settle_pending(trainer: Any) -> dict[int, list[Any]]:
    """Wait for every generation call already dispatched (for any later step) and move the finished groups
    from the queue into the stream's buffer; returns the calls' results by step (the rollout statistics
    `_collect` reads). Waiting costs the overlap of this one step; regenerating is impossible (older policy)."""
    import ray

    results = {step: ray.get(refs) for step, refs in trainer.gen_refs.items()}
    buffer = trainer.stream.buffer
    while not trainer.queue.empty():
        group = trainer.queue.get(block=False)
        buffer.setdefault(group.step, []).append(group)
    return results


def driver_state(trainer: Any, steps_done: int, results: dict[str, Any]) -> dict[str, Any]:
    """Everything of the RL driver the next step depends on (the learner saves its own state)."""
    gen_results = settle_pending(trainer)
    return {
        "steps_done": steps_done,
        "version": trainer.version,
        "next_uid": trainer.next_uid,
        "sampler": trainer.sampler.state_dict(),
        "schedule": trainer.schedule.state_dict(),
        "retirement": trainer.retirement.state_dict() if trainer.retirement is not None else None,
        "stream": {"buffer": trainer.stream.buffer, "stale_dropped": trainer.stream.stale_dropped},
        "expected": dict(trainer.expected),
        "gen_results": gen_results,
        "results": dict(results),
        "rng": rng_state(),
        "config": dataclasses.asdict(trainer.cfg),
    }


def restore_driver(trainer: Any, state: dict[str, Any]) -> None:
    """Put `driver_state`'s values back into a freshly built trainer (before its first step)."""
    import ray

    trainer.version = state["version"]
    trainer.next_uid = state["next_uid"]
    trainer.sampler.load_state_dict(state["sampler"])
    trainer.schedule.load_state_dict(state["schedule"])
    if trainer.retirement is not None:
        trainer.retirement.load_state_dict(state["retirement"])
    trainer.stream.buffer = state["stream"]["buffer"]
    trainer.stream.stale_dropped = state["stream"]["stale_dropped"]
    trainer.expected = dict(state["expected"])
    trainer.gen_refs = {step: [ray.put(r) for r in rs] for step, rs in state["gen_results"].items()}
    set_rng_state(state["rng"])


def truncate_jsonl(path: Path, last_step: int) -> int:
    """Keep the lines of a metrics-style JSONL file whose `step` is <= `last_step` (a resumed run writes the
    rest again); a torn last line from a kill is dropped. Returns the lines kept."""
    path = Path(path)
    if not path.exists():
        return 0
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and int(record.get("step", 0)) <= last_step:
            kept.append(line + "\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    os.replace(tmp, path)
    return len(kept)
