"""The recipe commands and `rlvr pipeline` are Hydra apps: -m runs a Hydra multirun, one job per combination."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from rlvr.cli import main


def _stub_runner(calls):
    def run(cfg, start, out):
        calls.append({"lr": cfg.learner.lr, "start": start, "out": out, "name": cfg.name})
        out.mkdir(parents=True, exist_ok=True)
        return {"final": str(out / "final"), "output_dir": str(out), "steps": 1, "seconds": 0.0}

    return run


def test_a_stage_command_runs_a_hydra_multirun(tmp_path, monkeypatch, capsys):
    from rlvr.recipes import cache

    calls: list[dict] = []
    monkeypatch.setattr(cache, "runner_for", lambda cfg: _stub_runner(calls))
    sweep = tmp_path / "sweep"
    assert main(["midtrain", "-m", "learner.lr=0.001,0.002", f"model.path={tmp_path}",
                 f"hydra.sweep.dir={sweep}"]) == 0
    assert sorted(c["lr"] for c in calls) == [0.001, 0.002]
    assert all(c["name"] == "tiny_midtrain" and c["start"] == str(tmp_path) for c in calls)
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [c["out"] for c in calls] == jobs and len(jobs) == 2  # each job writes into its own sweep subdir
    for job in jobs:
        assert (job / ".hydra" / "overrides.yaml").is_file()
    assert "learner.lr=0.001" in jobs[0].name
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [p["output_dir"] for p in printed] == [str(j) for j in jobs]


def test_a_stage_command_runs_once_into_its_run_dir(tmp_path, monkeypatch):
    from rlvr.recipes import cache

    calls: list[dict] = []
    monkeypatch.setattr(cache, "runner_for", lambda cfg: _stub_runner(calls))
    run = tmp_path / "run"
    assert main(["base", f"hydra.run.dir={run}", "learner.lr=0.005"]) == 0
    assert len(calls) == 1 and calls[0]["out"] == run and calls[0]["name"] == "tiny_pretrain" and calls[0]["start"] == ""
    assert main(["sft", f"hydra.run.dir={run}", "recipe=tiny_midtrain", f"model.path={tmp_path}"]) == 2


def test_configs_compose_inside_a_running_app(tmp_path, monkeypatch):
    """A stage that starts from recipe:NAME composes that recipe while Hydra runs the stage (and the pipeline
    composes the RL config): the running app's Hydra state must survive it."""
    from hydra.core.hydra_config import HydraConfig

    from rlvr.recipes import cache
    from rlvr.recipes.config import compose_recipe
    from rlvr.train_app import compose

    seen = {}

    def runner(cfg, start, out):
        seen["upstream"] = cache.stage_key(compose_recipe("tiny_sft_think"))  # composes tiny_midtrain too
        seen["rl_steps"] = compose(["steps=3"]).steps
        seen["run_dir"] = HydraConfig.get().runtime.output_dir
        return {"output_dir": str(out)}

    monkeypatch.setattr(cache, "runner_for", lambda cfg: runner)
    assert main(["midtrain", f"hydra.run.dir={tmp_path}", f"model.path={tmp_path}"]) == 0
    assert len(seen["upstream"]) == 16 and seen["rl_steps"] == 3 and seen["run_dir"] == str(tmp_path)


def test_help_lists_the_recipes(capsys):
    assert main(["midtrain", "--help"]) == 0
    out = capsys.readouterr().out
    assert "recipe=NAME" in out and "tiny_midtrain" in out and "microanneal.candidate=SRC" in out


def test_pipeline_multirun_goes_through_hydra(tmp_path, monkeypatch):
    import rlvr.pipeline as pipeline

    calls = []

    def fake(base, mid, rl, out, fresh=False):
        calls.append({"base": base, "mid": mid, "rl": rl, "out": out, "fresh": fresh})
        return {"table": f"table for {rl}"}

    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    sweep = tmp_path / "sweep"
    assert main(["pipeline", "-m", "midtrain.data.mix=tiny_midtrain,tiny_pretrain", "rl.steps=5,10",
                 "base.long_context.eval_lengths=[64,128]", "fresh=true", f"hydra.sweep.dir={sweep}"]) == 0
    assert len(calls) == 4  # commas sweep; a list value stays whole
    assert {(c["mid"].data.mix, tuple(c["rl"])) for c in calls} == {
        (m, (f"steps={s}",)) for m in ("tiny_midtrain", "tiny_pretrain") for s in (5, 10)}
    assert all(c["base"].name == "tiny_pretrain" and c["base"].long_context.eval_lengths == [64, 128] for c in calls)
    assert all(c["fresh"] and Path(c["out"]).parent == sweep for c in calls)
    assert len({c["out"] for c in calls}) == 4


def test_pipeline_cfg_job_shows_every_stage(capsys):
    assert main(["pipeline", "base.learner.lr=0.001", "midtrain.data.mix=other", "rl.steps=10", "--cfg", "job"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["base"]["name"] == "tiny_pretrain" and printed["base"]["learner"]["lr"] == 0.001
    assert printed["midtrain"]["data"]["mix"] == "other" and printed["rl"] == {"steps": 10}
