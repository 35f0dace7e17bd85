"""Stage evals (rlvr.recipes.evaluate): transformers' generate as a backend of rlvr.evaluation, scored in the pool."""
from __future__ import annotations

import pytest

from rlvr.recipes import evaluate as stage_eval
from tests.tiny import make_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("eval_ckpt"), seed=3)


def test_hf_generate_pads_on_the_left_and_repeats_greedy_samples(checkpoint):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(checkpoint)
    prompts = [tok("Question: 3 + 4\nSolution:", add_special_tokens=False)["input_ids"],
               tok("Q: 12 + 30 =", add_special_tokens=False)["input_ids"]]
    generate = stage_eval.hf_generate(checkpoint, batch_size=8)
    batched = generate(prompts, 2, 0.0, 6, ["\n\n"], 0)
    alone = [generate([p], 1, 0.0, 6, ["\n\n"], 0)[0] for p in prompts]
    assert [len(g) for g in batched] == [2, 2] and batched[0][0] == batched[0][1]
    assert [g[0] for g in batched] == [a[0] for a in alone]  # left padding changes nothing
    text, ids = batched[0][0]
    assert isinstance(text, str) and 0 < len(ids) <= 6
    assert all(len(g) == 3 for g in generate(prompts, 3, 1.0, 4, [], 7))  # sampling: n per prompt


def test_eval_checkpoint_scores_in_the_verifier_pool(checkpoint, monkeypatch):
    pools = []

    class RecordingPool(stage_eval.VerifierPool):
        def score(self, items):
            pools.append(len(items))
            return super().score(items)

    monkeypatch.setattr(stage_eval, "VerifierPool", RecordingPool)
    result = stage_eval.eval_checkpoint(checkpoint, "arithmetic", "eval", size=5, seed=1, max_tokens=8)
    assert pools == [5]  # one batch, in the pool with its hard per-item timeout
    assert result["n"] == 5 and 0.0 <= result["accuracy"] <= 1.0 and set(result) == {"accuracy", "n", "seconds",
                                                                                      "examples"}
    assert len(result["examples"]) == 4 and set(result["examples"][0]) == {"prompt", "response", "answer", "correct"}
