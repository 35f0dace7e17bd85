"""The rollout log (`rollout_log=true`): what the policy sampled at each step and what the verifier said.

<run>/rollouts/step_<N>.jsonl.gz holds one JSON line per prompt group of step N (1-based, as in
metrics.jsonl), in dispatch (uid) order: the request, the policy version that sampled it, whether it
trained, and per sample the response, its token ids and log-probs, finish reason, reward, correctness,
verifier error, repetition penalty and policy versions ((first token index, version) switch points: more
than one when weights changed in flight, `rollout.inflight_updates`). A resumed run writes the same files
as the uninterrupted one, so two runs can be compared sample by sample (`read_rollouts`).
"""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlvr.rewards import StepBatch


def rollout_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "rollouts" / f"step_{step}.jsonl.gz"


def group_records(step: int, batch: StepBatch) -> list[dict[str, Any]]:
    """One record per scored group of `batch` (a pure function: what `write_rollouts` writes)."""
    kept = {id(g) for g in batch.kept}
    out = []
    for g in batch.scored:
        req = g.group.request
        samples = [{"response": s.response_text, "response_ids": list(s.response_ids),
                    "logprobs": list(s.rollout_logprobs), "finish_reason": s.finish_reason, "reward": r,
                    "correct": c, "error": e, "repetition_penalty": p,
                    "versions": [list(v) for v in s.versions]}
                   for s, r, c, e, p in zip(g.group.samples, g.rewards, g.correct, g.errors, g.repetition_penalty)]
        out.append({"step": step, "uid": req.uid, "prompt_id": req.prompt_id, "prompt": req.prompt,
                    "ground_truth": req.ground_truth, "verifier": req.verifier, "drawn_for_step": req.step,
                    "max_tokens": req.max_tokens, "version": g.group.version, "kept": id(g) in kept,
                    "samples": samples})
    return out


def write_rollouts(run_dir: Path, step: int, batch: StepBatch) -> Path:
    """Write step `step`'s groups (replacing a file a killed run left), atomically."""
    path = rollout_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        for record in group_records(step, batch):
            f.write(json.dumps(record, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read_rollouts(run_dir: Path, step: int) -> list[dict[str, Any]]:
    """The records `write_rollouts` wrote for `step`."""
    with gzip.open(rollout_path(run_dir, step), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
