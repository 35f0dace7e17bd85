"""Recipe stages end to end on the FSDP learner (Ray, two CPU workers), kept to a few optimizer steps each."""
from __future__ import annotations

import json

import pytest

from rlvr.recipes.config import compose_recipe

pytestmark = pytest.mark.slow
SMALL = ["train.batch_size=4", "learner.micro_batch_size=2", "train.log_every=1", "eval.size=8", "eval.max_tokens=16"]


def _log(path):
    return [json.loads(line) for line in (path / "train_log.jsonl").read_text().splitlines()]


def test_tiny_base_from_scratch_writes_checkpoint_manifest_and_report(tmp_path):
    from rlvr.recipes.stage import run_stage

    cfg = compose_recipe("tiny_pretrain", SMALL + ["data.total_tokens=20000", "model.tiny.tokenizer_docs=1500",
                                                   "train.steps=3", f"output_dir={tmp_path}"])
    summary = run_stage(cfg, "", tmp_path)  # model.init=tiny: the stage makes its own start
    final = tmp_path / "final"
    manifest = json.loads((final / "mix_manifest.json").read_text())
    assert manifest["tokens"] >= 20000 and manifest["sources"][0]["name"] == "web"
    assert manifest["decontamination"]["eval_sets"]["arithmetic"]["rows"] > 0
    assert json.loads((tmp_path / "decontamination.json").read_text())["n"] == 13
    lines = _log(tmp_path)
    assert [line["step"] for line in lines] == [1, 2, 3] and all(line["tokens_per_s"] > 0 and line["mfu"] > 0 for line in lines)
    assert summary["steps"] == 3 and 0.0 <= summary["eval_final"]["accuracy"] <= 1.0
    assert (final / "tokenizer.json").is_file() and (final / "model.safetensors").is_file()


def test_think_sft_trains_on_assistant_tokens_and_ships_the_template(make_checkpoint, tmp_path):
    from transformers import AutoTokenizer

    from rlvr.recipes.sft_stage import run_sft

    start = make_checkpoint("sft_start", seed=0)
    cfg = compose_recipe("tiny_sft_think", SMALL + [f"model.path={start}", "sft.max_examples=24", "train.steps=3",
                                                    f"output_dir={tmp_path}"])
    summary = run_sft(cfg, str(start), tmp_path)
    tok = AutoTokenizer.from_pretrained(summary["final"])
    assert "<think>" in tok.chat_template and "generation" in tok.chat_template
    data = json.loads((tmp_path / "sft_data.json").read_text())
    assert data["examples"] == 24 and 0 < data["label_tokens"] < data["tokens"]
    assert len(_log(tmp_path)) == 3
    assert summary["eval_final"]["prompt"] == "chat" and summary["eval_start"]["prompt"] == "plain"


def test_microanneal_compares_candidate_and_baseline_side_by_side(make_checkpoint, tmp_path):
    from rlvr.recipes.microanneal import run_microanneal

    start = make_checkpoint("anneal_start", seed=1)
    cfg = compose_recipe("tiny_microanneal", SMALL + [f"model.path={start}", "microanneal.tokens=6000",
                                                      "train.steps=2", f"output_dir={tmp_path}"])
    summary = run_microanneal(cfg, str(start), tmp_path)
    cand = json.loads((tmp_path / "candidate" / "mix_manifest.json").read_text())
    base = json.loads((tmp_path / "baseline" / "mix_manifest.json").read_text())
    shares = {s["name"]: s["share"] for s in cand["sources"]}
    assert shares["candidate"] == pytest.approx(0.5, abs=0.05) and [s["name"] for s in base["sources"]] == ["baseline"]
    assert abs(cand["tokens"] - base["tokens"]) < 200  # the same budget for both runs
    assert set(summary["accuracy"]) == {"start", "baseline", "candidate"}
    assert summary["difference"] == pytest.approx(summary["accuracy"]["candidate"] - summary["accuracy"]["baseline"])
    assert "with candidate" in summary["table"] and "difference" in summary["table"]


def test_long_context_stage_trains_with_yarn_and_reports_perplexity(make_checkpoint, tmp_path):
    from rlvr.recipes.stage import run_stage

    start = make_checkpoint("lc_start", seed=2, max_position_embeddings=128)
    cfg = compose_recipe("tiny_long_context", SMALL + [f"model.path={start}", "data.total_tokens=12000",
                                                       "data.seq_len=256", "train.steps=2", "long_context.eval_docs=2",
                                                       "long_context.eval_lengths=[64,256]", f"output_dir={tmp_path}"])
    summary = run_stage(cfg, str(start), tmp_path)
    config = json.loads((tmp_path / "final" / "config.json").read_text())
    assert config["rope_parameters"]["rope_type"] == "yarn" and config["max_position_embeddings"] == 512
    assert set(summary["perplexity"]) == {"start (no YaRN)", "start + YaRN, untrained", "after long-context training"}
    assert "ppl@256" in summary["perplexity_table"]
    manifest = json.loads((tmp_path / "mix_manifest.json").read_text())
    assert {s["name"] for s in manifest["sources"]} == {"long_web", "short_web"}
