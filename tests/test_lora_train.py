"""`rlvr train model.lora.rank=8` on real parts: FSDP2 + peft learner, vLLM engine, each weight-sync path
(merged weights, what runs on a CPU; vLLM's own LoRA serving), the KL reference with the adapter off, the
saved adapter and merged checkpoint."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray2")]

# reward=random: the tiny random-init model solves nothing, so a real reward would leave every group at zero
# variance and nothing would train (the sync test would pass on unchanged weights).
SHORT = ["reward=random", "steps=2", "rollout.prompts_per_step=4", "rollout.group_size=4", "data.eval_size=8", "data.train_size=64",
         "progress=false", "model.lora.rank=8", "model.lora.lr=2e-2", "algorithm.kl_coef=0.01"]


@pytest.mark.parametrize("sync,served", [("auto", "merged weights"), ("adapter", "the adapter (vLLM LoRA)")])
def test_lora_train_syncs_and_saves(tmp_path, sync, served):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tests.tiny import make_tiny_checkpoint

    base = make_tiny_checkpoint(tmp_path / "tiny")
    run = tmp_path / "run"
    env = dict(os.environ, RLVR_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "rlvr.cli", "train", *SHORT, f"model.path={base}",
                           f"model.lora.sync={sync}", f"hydra.run.dir={run}"],
                          env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"the engines get {served}" in out  # on a CPU, auto is the merged path
    steps = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in steps if "train/reward_mean" in m]
    assert [m["step"] for m in steps] == [1, 2]
    for m in steps:
        assert m["rollout/logprob_gap"] < 1e-3, m["rollout/logprob_gap"]  # engine and learner agree after sync
        assert m["loss/kl_ref"] >= 0.0  # the reference (the base, adapter off) was scored
    ckpt = Path(json.loads((run / "summary.json").read_text())["checkpoint"])
    ids = torch.tensor([[5, 9, 13, 2, 40, 41, 7]])
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(ckpt).eval()(input_ids=ids).logits
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), ckpt / "adapter")
        assert (adapted.eval()(input_ids=ids).logits - merged).abs().max() <= 1e-5
        bare = AutoModelForCausalLM.from_pretrained(base).eval()(input_ids=ids).logits
    assert (bare - merged).abs().max() > 1e-4  # the adapter trained
