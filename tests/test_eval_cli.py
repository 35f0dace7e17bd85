"""`rlvr eval` end to end: a local vLLM engine on a tiny checkpoint, scored by rlvr.evaluation in the pool."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny import make_tiny_checkpoint

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_eval_a_public_set_with_k_samples(tmp_path):
    model = make_tiny_checkpoint(tmp_path / "tiny")  # 512 positions: fewer than rlvr eval's default room
    out = tmp_path / "samples.jsonl"
    run = subprocess.run([sys.executable, "-m", "rlvr.cli", "eval", model, "--data", "amc23", "-n", "3", "-k", "2",
                          "--temperature", "1.0", "--max-tokens", "24", "-o", str(out)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout[run.stdout.rfind("\n{") + 1:])  # vLLM logs to stdout before it
    assert summary["prompts"] == 3 and summary["data"] == "amc23"
    assert {"eval/accuracy", "eval/pass@2", "eval/maj@2", "eval/reward_mean", "eval/errors",
            "eval/response_chars_mean"} <= set(summary)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and all(r["error"] is None for r in rows)
    # amc23's prompts use the default completion template, so its stops end every response.
    assert not any("\n\n" in r["response"] or "Question:" in r["response"] for r in rows)
