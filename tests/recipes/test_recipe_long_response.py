"""The long-response setup: the experiment configs compose into a base and budgets that fit the task, and
examples/long_response reads loops the way the trainer's detector does (the runs themselves take minutes)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rlvr.config import to_dataclass
from rlvr.hydra_app import compose
from rlvr.paths import REPO_ROOT

EXAMPLE = Path(REPO_ROOT) / "examples" / "long_response" / "run.py"


def _config(experiment: str):
    from rlvr.config import register_configs

    register_configs()
    return to_dataclass(compose("config", [f"+experiment={experiment}"]))


def test_experiments_share_task_base_and_final_budget():
    olmorl, campo = _config("long_response"), _config("long_response_campo")
    assert (olmorl.algorithm.name, campo.algorithm.name) == ("olmorl", "campo")
    for cfg in (olmorl, campo):
        assert cfg.data.source == "multistep" and cfg.model.base.corpus == "multistep" and not cfg.model.path
        assert cfg.rollout.max_model_len <= cfg.model.base.max_position_embeddings
        assert cfg.eval.max_tokens == cfg.rollout.max_tokens == 448 and cfg.rollout_log
    assert olmorl.model.base == campo.model.base  # one cached base for both
    assert not olmorl.algorithm.length_stages and campo.algorithm.repetition.enabled
    budgets = [s.max_tokens for s in campo.algorithm.length_stages]
    # staged budgets that grow to OlmoRL's fixed one; the first cuts long written solutions (median ~240 tokens)
    assert budgets == sorted(budgets) and budgets[-1] == olmorl.rollout.max_tokens and budgets[0] <= 256
    assert campo.algorithm.length_stages[-2].until_step < campo.steps == olmorl.steps


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("long_response_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_reads_the_body_the_trainer_scores(example):
    decode = lambda ids: "".join(chr(96 + i) for i in ids)  # noqa: E731  token i spells one letter
    eos = 0
    looped = {"response_ids": [1, 2, 3, 2, 3, 2, 3], "response": "abcbcbc", "finish_reason": "length"}
    on_stop = {"response_ids": [1, 2, 2, 5, 5], "response": "abb", "finish_reason": "stop"}  # stop string "ee"
    on_eos = {"response_ids": [1, 2, 2, eos], "response": "abb", "finish_reason": "stop"}
    assert example.body_ids(looped, eos, decode) == [1, 2, 3, 2, 3, 2, 3]
    assert example.body_ids(on_stop, eos, decode) == [1, 2, 2]  # the stop string's tokens are not the body
    assert example.body_ids(on_eos, eos, decode) == [1, 2, 2, eos]  # ended by itself: no trailing loop
    assert example.loop_fraction(example.body_ids(on_eos, eos, decode)) == 0.0


def test_example_table_states_the_comparison(example):
    def agg(loop, trunc, acc):
        fig = lambda v: {"mean": v, "per_seed": [v]}  # noqa: E731
        row = {"seeds": [0], "eval_start": fig(0.1), "eval_end": fig(acc), "step_s": fig(9.0), "seconds": fig(90.0)}
        for _, key, _ in example.SERIES:
            row[key] = {p: fig(0.5) for p in ("start", "end", "mean")}
        row["loop_rate"]["end"], row["truncation_rate"]["end"] = fig(loop), fig(trunc)
        return row

    holds = example.markdown({"campo": agg(0.05, 0.1, 0.3), "olmorl": agg(0.2, 0.3, 0.3)})
    assert "HOLDS" in holds and "| campo | loop rate | 0.500 | 0.050 | 0.500 |" in holds
    fails = example.verdict({"campo": agg(0.05, 0.1, 0.2), "olmorl": agg(0.2, 0.3, 0.3)})
    assert "DOES NOT HOLD" in fails and "eval accuracy after (equal or better): no" in fails
