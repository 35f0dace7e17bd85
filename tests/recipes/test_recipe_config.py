"""Recipe configs: every recipe composes and validates (`--cfg job`), including the real-model ones."""
from __future__ import annotations

import pytest
import yaml

from rlvr.recipes.commands import COMMANDS, split_recipe
from rlvr.recipes.config import RecipeError, compose_recipe, derived_steps, list_recipes
from rlvr.recipes.mix import MixError

REAL = ["pretrain", "midtrain", "long_context", "sft_think", "microanneal"]
TINY = ["tiny_pretrain", "tiny_midtrain", "tiny_long_context", "tiny_sft_think", "tiny_microanneal"]


def test_all_recipes_are_present():
    assert set(REAL + TINY) <= set(list_recipes())


@pytest.mark.parametrize("name", REAL + TINY)
def test_every_recipe_composes_and_validates(name):
    cfg = compose_recipe(name)
    assert cfg.name == name and cfg.description
    if name in REAL:
        hw = cfg.hardware
        assert hw.device == "gpu" and hw.gpu and hw.nodes * hw.gpus_per_node == cfg.learner.num_workers
        assert cfg.learner.mixed_precision == "bf16"
    else:
        assert cfg.hardware.device == "cpu" and cfg.learner.num_workers == 2


def test_the_real_midtraining_recipe_is_dolmino_shaped():
    from rlvr.recipes.config import resolve_mix_path
    from rlvr.recipes.mix import load_mix

    cfg = compose_recipe("midtrain")
    mix = load_mix(resolve_mix_path(cfg.data.mix))
    budgets = mix.budgets(cfg.data.total_tokens)
    share: dict[str, float] = {}
    for spec, tokens in zip(mix.sources, budgets):
        share[spec.category] = share.get(spec.category, 0.0) + tokens / cfg.data.total_tokens
    assert set(share) == {"math", "code", "qa", "thinking", "instruction", "pdfs", "web"}
    assert share["web"] == pytest.approx(0.274, abs=0.005)  # the web share is kept
    assert share["code"] == pytest.approx(0.20, abs=0.005) and share["thinking"] == pytest.approx(0.083, abs=0.005)
    assert derived_steps(cfg, cfg.data.total_tokens) == cfg.data.total_tokens // (512 * 8192)
    assert cfg.decontamination.enabled and "gsm8k" in cfg.decontamination.eval_sets


def test_cfg_job_prints_the_validated_recipe(capsys):
    assert COMMANDS["midtrain"](["recipe=midtrain", "learner.lr=1e-4", "--cfg", "job"]) == 0
    out = capsys.readouterr().out
    printed = yaml.safe_load(out)
    assert printed["name"] == "midtrain" and printed["learner"]["lr"] == 1e-4
    assert printed["model"]["path"] == "allenai/Olmo-3-1025-7B"
    assert "derived: 23841 optimizer steps" in out and "is valid" in out


@pytest.mark.parametrize("argv, message", [
    (["recipe=midtrain", "learner.num_workers=3", "--cfg", "job"], "train.batch_size"),
    (["recipe=midtrain", "learner.num_workers=16", "train.batch_size=512", "--cfg", "job"], "learner.num_workers"),
    (["recipe=midtrain", "train.lrr=1", "--cfg", "job"], "train.lrr"),
    (["recipe=midtrain", "train.lr=1e-4", "--cfg", "job"], "train.lr"),  # the optimiser moved to learner.*
    (["recipe=midtrain", "learner.lr_schedule=step", "--cfg", "job"], "learner.lr_schedule"),
    (["recipe=nosuch", "--cfg", "job"], "unknown recipe 'nosuch'"),
    (["recipe=tiny_sft_think", "--cfg", "job"], "is a sft recipe"),
])
def test_invalid_recipes_are_refused_naming_the_key(capsys, argv, message):
    assert COMMANDS["midtrain"](argv) == 2
    assert message in capsys.readouterr().err


def test_a_bad_mix_file_fails_validation_naming_file_entry_and_field(tmp_path):
    bad = tmp_path / "bad_mix.yaml"
    bad.write_text(yaml.safe_dump([{"name": "a", "builtin": "arithmetic:midtrain", "weight": 1},
                                   {"name": "b", "builtin": "arithmetic:pretrain", "weight": "lots"}]))
    with pytest.raises(MixError, match=rf"{bad}: sources\[1\] \(b\): field 'weight'"):
        compose_recipe("tiny_midtrain", [f"data.mix={bad}"])
    with pytest.raises(RecipeError, match="data.total_tokens"):
        compose_recipe("tiny_midtrain", ["data.total_tokens=0"])


def test_the_command_reports_a_bad_mix_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad_mix.yaml"
    bad.write_text(yaml.safe_dump([{"name": "a", "path": "web.csv", "tokens": 10}]))
    assert COMMANDS["midtrain"]([f"data.mix={bad}", "--cfg", "job"]) == 2
    assert f"{bad}: sources[0] (a): field 'path'" in capsys.readouterr().err


def test_argument_parsing(capsys):
    assert split_recipe(["a.b=1", "output_dir=/x"], "tiny_midtrain") == ("tiny_midtrain", ["a.b=1", "output_dir=/x"])
    assert split_recipe(["recipe=tiny_sft_think", "learner.lr=1", "recipe=x"], "d") == ("x", ["learner.lr=1"])
    # The hand-written flags are Hydra overrides now; the old spelling says what to write instead.
    assert COMMANDS["midtrain"](["a.b=1", "--cfg", "job", "-o", "/x"]) == 2
    assert "-o is now the override output_dir=DIR" in capsys.readouterr().err
    assert COMMANDS["midtrain"](["--cfg", "job", "output_dir=/x"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["output_dir"] == "/x"


def test_microanneal_flags_become_overrides(capsys):
    assert COMMANDS["microanneal"](["microanneal.candidate=arithmetic:train", "microanneal.tokens=5000",
                                    "model.path=/ckpt", "--cfg", "job"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["microanneal"]["candidate"] == "arithmetic:train" and printed["microanneal"]["tokens"] == 5000
    assert printed["model"]["path"] == "/ckpt"
    assert COMMANDS["microanneal"](["--candidate", "arithmetic:train", "--cfg", "job"]) == 2
    assert "microanneal.candidate=SOURCE" in capsys.readouterr().err


def test_recipe_list(capsys):
    assert COMMANDS["recipe"](["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in REAL + TINY) and "INVALID" not in out


def test_cache_keys_follow_what_the_stage_uses():
    from rlvr.recipes.cache import stage_key

    base = compose_recipe("tiny_pretrain")
    assert stage_key(base) == stage_key(compose_recipe("tiny_pretrain"))
    assert stage_key(base) != stage_key(compose_recipe("tiny_pretrain", ["learner.lr=1e-3"]))
    assert stage_key(base) != stage_key(compose_recipe("tiny_pretrain", ["train.steps=7"]))
    assert stage_key(base) != stage_key(compose_recipe("tiny_pretrain", ["data.seed=1"]))
    # sections the stage never reads leave its key alone
    assert stage_key(base) == stage_key(compose_recipe("tiny_pretrain", ["hardware.notes=x", "sft.max_len=64",
                                                                         "long_context.factor=8"]))
    # a stage started from another recipe's output changes when that recipe does
    mid = stage_key(compose_recipe("tiny_midtrain"))
    assert mid == stage_key(compose_recipe("tiny_midtrain"))
