"""`rlvr train data.source=...` on a verl Parquet file, an open-instruct JSONL file and a save_to_disk dataset of
GSM8K rows: real vLLM, Ray, FSDP and verifier pool, two tiny steps each. The tiny checkpoint (512 positions)
leaves room for these prompts with rollout.max_model_len=512."""
import json
import os
import subprocess
import sys

import pytest

from tests.data.test_data_formats import open_instruct_rows, verl_rows, write_jsonl, write_parquet, write_saved
from tests.tiny import make_tiny_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TINY = ["steps=2", "rollout.prompts_per_step=2", "rollout.group_size=2", "rollout.max_model_len=512",
        "learner.num_workers=1", "data.eval_size=2", "save_checkpoint=false", "progress=false"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def test_each_format_trains(tmp_path, model):
    # One multirun over the three sources: one process, three runs (the imports are paid once).
    sources = [write_parquet(tmp_path / "verl.parquet", verl_rows(4)),
               write_jsonl(tmp_path / "open_instruct.jsonl", open_instruct_rows(4)),
               write_saved(tmp_path / "saved", verl_rows(4))]
    sweep = tmp_path / "sweep"
    env = dict(os.environ, RLVR_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    args = ["train", "-m", f"data.source={','.join(str(s) for s in sources)}", f"model.path={model}", *TINY,
            f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}"]
    proc = subprocess.run([sys.executable, "-m", "rlvr.cli", *args], env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for job, source in enumerate(sources):
        run = sweep / str(job)
        assert f"source: {source}" in (run / "config.yaml").read_text()
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        steps = [m for m in lines if "train/reward_mean" in m]
        assert [m["step"] for m in steps] == [1, 2], source
        # every response went to the verifier (math, as data show prints) and was scored without an error
        assert all(m["train/verifier_errors"] == 0 for m in steps), source
        assert len([m for m in lines if "eval/accuracy" in m]) == 2, source
