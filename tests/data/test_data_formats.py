"""Dataset formats (plain, verl, open-instruct), their sources (JSONL, Parquet, save_to_disk, hf:), chat templates,
the context check and `rlvr data show`; every error names its file, row and field."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr.config import DataConfig
from rlvr.data.prompts import (DEFAULT_PROMPT_TEMPLATE, DataError, Rendering, chat_stops, load_prompt_set,
                               load_prompt_sets, load_prompts)
from rlvr.paths import DATASETS_DIR

GSM8K = DATASETS_DIR / "public" / "gsm8k" / "test.jsonl"


def gsm8k_rows(n: int = 4) -> list[tuple[str, str]]:
    """(question, final answer) of the first n shipped GSM8K test rows."""
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()[:n]]
    return [(r["question"], r["answer"].rsplit("####", 1)[1].strip().replace(",", "")) for r in rows]


def verl_rows(n: int = 4) -> list[dict]:
    return [{"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": q}], "ability": "math",
             "reward_model": {"style": "rule", "ground_truth": a}, "extra_info": {"split": "test", "index": i}}
            for i, (q, a) in enumerate(gsm8k_rows(n))]


def open_instruct_rows(n: int = 4) -> list[dict]:
    return [{"messages": [{"role": "user", "content": q}], "ground_truth": [a], "dataset": ["gsm8k"]}
            for q, a in gsm8k_rows(n)]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_saved(path: Path, rows: list[dict]) -> Path:
    import datasets

    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path


# ---- the three formats, from each kind of source ----------------------------------------------------------


@pytest.mark.parametrize("writer", [write_parquet, write_jsonl, write_saved], ids=["parquet", "jsonl", "saved"])
def test_verl_rows_from_every_source(tmp_path, writer):
    suffix = {"write_parquet": ".parquet", "write_jsonl": ".jsonl", "write_saved": ""}[writer.__name__]
    path = writer(tmp_path / f"verl{suffix}", verl_rows())
    rows = load_prompts(str(path))
    assert [(r.question, r.ground_truth) for r in rows] == gsm8k_rows()
    assert {r.verifier for r in rows} == {"math"} and {r.metadata["format"] for r in rows} == {"verl"}
    assert rows[0].prompt == DEFAULT_PROMPT_TEMPLATE.format(question=gsm8k_rows()[0][0])
    assert rows[1].id == "1" and rows[1].metadata["extra_info"]["split"] == "test"  # extra_info.index is the id
    assert rows[0].messages == [{"role": "user", "content": gsm8k_rows()[0][0]}]


def test_open_instruct_rows(tmp_path):
    rows = open_instruct_rows()
    rows[0]["messages"].append({"role": "assistant", "content": "the reference answer"})  # SFT-style: dropped
    rows[1]["ground_truth"], rows[1]["dataset"] = rows[1]["ground_truth"][0], "MATH"  # strings, any case
    out = load_prompts(str(write_jsonl(tmp_path / "oi.jsonl", rows)))
    assert [(r.question, r.ground_truth) for r in out] == gsm8k_rows()
    assert {r.verifier for r in out} == {"math"} and {r.metadata["format"] for r in out} == {"open_instruct"}
    assert out[0].messages == [{"role": "user", "content": gsm8k_rows()[0][0]}]


def test_plain_rows_take_object_ground_truths(tmp_path):
    ifeval = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    code = {"asserts": ["assert add(1, 2) == 3"]}
    path = write_parquet(tmp_path / "plain.parquet", [
        {"question": "Write a line.", "ground_truth": json.dumps(ifeval), "verifier": "ifeval"},
        {"question": "Write add(a, b).", "ground_truth": json.dumps(code), "verifier": "code"}])
    assert [r.ground_truth for r in load_prompts(str(path))] == [json.dumps(ifeval), json.dumps(code)]
    jsonl = write_jsonl(tmp_path / "plain.jsonl", [
        {"question": "Write a line.", "ground_truth": ifeval, "verifier": "ifeval"},
        {"question": "Write add(a, b).", "ground_truth": code, "verifier": "code"},
        {"question": "2+2?", "answer": ["4", "four"]}])
    assert [r.ground_truth for r in load_prompts(str(jsonl))] == [ifeval, code, ["4", "four"]]


def test_format_is_detected_or_forced(tmp_path):
    path = write_jsonl(tmp_path / "v.jsonl", verl_rows(2))
    assert {r.metadata["format"] for r in load_prompts(str(path), fmt="verl")} == {"verl"}
    with pytest.raises(DataError, match=r"v.jsonl row 1: field 'prompt' must be a string, got list \(plain format, "
                                        r"data.format"):
        load_prompts(str(path), fmt="plain")
    with pytest.raises(ValueError, match="data.format must be one of auto, plain, verl, open_instruct"):
        load_prompts(str(path), fmt="sharegpt")
    with pytest.raises(ValueError, match="data.format='sharegpt' is not allowed"):
        DataConfig(format="sharegpt").validate()


def test_verifier_map_and_row_verifier(tmp_path):
    rows = verl_rows(2)
    rows[0]["data_source"] = "my_lab/arith"
    rows[1]["verifier"] = "format"  # a row's own verifier wins over its data_source
    path = write_jsonl(tmp_path / "v.jsonl", rows)
    with pytest.raises(DataError, match=r"v.jsonl row 1: field 'data_source': no verifier for 'my_lab/arith'; "
                                        r"map it with data.verifier_map"):
        load_prompts(str(path))
    out = load_prompts(str(path), verifier_map={"my_lab/arith": "math"})
    assert [r.verifier for r in out] == ["math", "format"]


# ---- open-instruct's IF and code labels ---------------------------------------------------------------------


def _oi_if(label, dataset="ifeval") -> dict:
    return {"messages": [{"role": "user", "content": "Describe a cat."}], "ground_truth": label, "dataset": dataset}


def test_open_instruct_if_and_code_labels_are_translated(tmp_path):
    old = {"func_name": "validate_lowercase", "N": None, "quantifier": None, "word": None}
    words = {"func_name": "validate_word_constraint", "N": 50, "quantifier": "at most"}
    new = str([{"instruction_id": ["punctuation:no_comma", "keywords:existence"],
                "kwargs": [None, {"keywords": ["cat"], "relation": None}]}])  # a Python literal, as open-instruct has
    rows = [_oi_if(json.dumps(old)), _oi_if(json.dumps(words), "ifeval_old"), _oi_if([new]),
            _oi_if(["assert f(1) == 2"], "code"), _oi_if(json.dumps([{"input": "1\n", "output": "2\n"}]), "code_stdio")]
    out = load_prompts(str(write_jsonl(tmp_path / "oi.jsonl", rows)))
    assert [r.verifier for r in out] == ["ifeval", "ifeval", "ifeval", "code", "code"]
    assert out[0].ground_truth == {"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]}
    assert out[1].ground_truth == {"instruction_id_list": ["length_constraints:number_words"],
                                   "kwargs": [{"num_words": 51, "relation": "less than"}]}  # at most 50 words
    assert out[2].ground_truth == {"instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
                                   "kwargs": [{}, {"keywords": ["cat"]}]}
    assert out[3].ground_truth == {"asserts": ["assert f(1) == 2"]}
    assert out[4].ground_truth == {"tests": [{"input": "1\n", "output": "2\n"}]}


@pytest.mark.parametrize("label, message", [
    ({"func_name": "verify_paragraph_count", "N": 3}, "'verify_paragraph_count' cannot be scored here: it splits "
                                                      "paragraphs on '* * *'"),
    ({"func_name": "validate_word_constraint", "N": 3, "quantifier": "around"}, "quantifier 'around'"),
    ({"func_name": "no_such_check"}, "unknown open-instruct constraint func_name 'no_such_check'"),
    ({"func_name": "verify_postscript"}, "verify_postscript: argument 'postscript_marker' is missing"),
    ([{"instruction_id": ["no:such"], "kwargs": [{}]}], "unknown instruction id 'no:such'"),
])
def test_open_instruct_if_labels_that_cannot_be_scored_name_the_row(tmp_path, label, message):
    rows = [_oi_if(json.dumps({"func_name": "validate_title"})), _oi_if(json.dumps(label))]
    with pytest.raises(DataError) as err:
        load_prompts(str(write_jsonl(tmp_path / "oi.jsonl", rows)))
    assert "oi.jsonl row 2: field 'ground_truth'" in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("row, message", [
    ({"prompt": [{"role": "user", "content": "q"}]}, "row 2: field 'reward_model' is missing"),
    ({"prompt": [{"role": "user", "content": "q"}], "reward_model": "7"}, "row 2: field 'reward_model' must be an object"),
    ({"prompt": [{"role": "user", "content": "q"}], "reward_model": {}}, "row 2: field 'reward_model.ground_truth' is missing"),
    ({"prompt": [{"role": "pirate", "content": "q"}], "reward_model": {"ground_truth": "1"}},
     "row 2: field 'prompt' message 1: 'role' must be one of"),
    ({"prompt": [{"role": "user", "content": 3}], "reward_model": {"ground_truth": "1"}},
     "row 2: field 'prompt' message 1: 'content' must be a string, got int"),
    ({"prompt": [], "reward_model": {"ground_truth": "1"}}, "row 2: field 'prompt' must be a non-empty list"),
    ({"prompt": [{"role": "system", "content": "s"}], "reward_model": {"ground_truth": "1"}},
     "row 2: field 'prompt' has no user message"),
    ({"prompt": [{"role": "user", "content": "q"}], "reward_model": {"ground_truth": {"a": 1}}},
     "row 2: field 'reward_model.ground_truth' (math): a math ground truth is a string, number or list"),
    ({"prompt": [{"role": "user", "content": "q"}], "reward_model": {"ground_truth": "{}"}, "data_source": "code"},
     "row 2: field 'reward_model.ground_truth' (code): code ground_truth"),
])
def test_bad_verl_rows_name_file_row_and_field(tmp_path, row, message):
    with pytest.raises(DataError) as err:
        load_prompts(str(write_jsonl(tmp_path / "v.jsonl", [verl_rows(1)[0], row])))
    assert f"v.jsonl {message}" in str(err.value)


@pytest.mark.parametrize("row, message", [
    ({"messages": [{"role": "user", "content": "q"}]}, "row 2: field 'ground_truth' is missing"),
    ({"messages": "q", "ground_truth": "1"}, "row 2: field 'messages' must be a non-empty list"),
    ({"messages": [{"role": "user", "content": "q"}], "ground_truth": "1", "dataset": "flan"},
     "row 2: field 'dataset': no verifier for 'flan'"),
    ({"messages": [{"role": "user", "content": "q"}], "ground_truth": "1", "dataset": ["gsm8k", "ifeval"]},
     "row 2: field 'dataset' must be a non-empty string (one verifier per row)"),
])
def test_bad_open_instruct_rows_name_file_row_and_field(tmp_path, row, message):
    with pytest.raises(DataError) as err:
        load_prompts(str(write_jsonl(tmp_path / "oi.jsonl", [open_instruct_rows(1)[0], row])))
    assert f"oi.jsonl {message}" in str(err.value)


# ---- Hub datasets, read from the local cache --------------------------------------------------------------


def _cache_hub_dataset(cache: Path, repo: str, config: str, splits: dict[str, list[dict]]) -> None:
    """What `load_dataset(repo, config)` leaves in the datasets cache after a download, built from local files."""
    import datasets

    files = {}
    for split, rows in splits.items():
        files[split] = str(write_parquet(cache.parent / f"{split}.parquet", rows))
    builder = datasets.load_dataset_builder("parquet", data_files=files, cache_dir=str(cache.parent / "build"))
    builder.download_and_prepare()
    org, name = repo.split("/")
    dest = cache / f"{org}___{name}" / config / "0.0.0" / Path(builder.cache_dir).name
    dest.mkdir(parents=True)
    for f in Path(builder.cache_dir).iterdir():
        (dest / f.name.replace("parquet-", f"{name}-")).write_bytes(f.read_bytes())
    info = json.loads((dest / "dataset_info.json").read_text())
    (dest / "dataset_info.json").write_text(json.dumps({**info, "config_name": config, "dataset_name": name}))


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    import datasets

    cache = tmp_path / "hf" / "datasets"
    cache.mkdir(parents=True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    return cache


def test_hub_dataset_is_read_from_the_local_cache(offline_cache):
    questions = [{"question": q, "answer": f"... #### {a}"} for q, a in gsm8k_rows(3)]
    _cache_hub_dataset(offline_cache, "openai/gsm8k", "main", {"train": questions[:2], "test": questions[2:]})
    train = load_prompts("hf:openai/gsm8k:main")
    assert [r.question for r in train] == [q for q, _ in gsm8k_rows(2)] and train[0].id == "gsm8k-1"
    assert [r.question for r in load_prompts("hf:openai/gsm8k:main", split="eval")] == [gsm8k_rows(3)[2][0]]
    # The public set's adapter over its Hub copy (opt-in): the final answer after '####'.
    assert [r.ground_truth for r in load_prompts("gsm8k:hf:openai/gsm8k:main:test", split="eval")] == [gsm8k_rows(3)[2][1]]


def test_hub_dataset_absent_from_the_cache_is_a_clear_error(offline_cache):
    with pytest.raises(DataError, match=r"hf:org/absent: not in the local Hugging Face cache .* \(offline: "
                                        r"HF_HUB_OFFLINE is set\)"):
        load_prompts("hf:org/absent")
    with pytest.raises(DataError, match=r"'hf:nope' is not a Hub dataset name; expected hf:ORG/NAME"):
        load_prompts("hf:nope")


# ---- rendering: plain and chat templates; the context check ---------------------------------------------


@pytest.fixture(scope="module")
def think_tokenizer(tmp_path_factory):
    """A tiny BPE tokenizer with the Think SFT recipe's chat template, saved like a checkpoint's."""
    from rlvr.models.tokenizer import load_tokenizer, train_tokenizer
    from rlvr.recipes.sft import THINK_CHAT_TEMPLATE

    out = tmp_path_factory.mktemp("tok")
    tok = train_tokenizer([q for q, _ in gsm8k_rows(40)], vocab_size=300)
    tok.chat_template = THINK_CHAT_TEMPLATE
    tok.save_pretrained(str(out))
    return load_tokenizer(out)


def test_chat_template_renders_messages_and_questions(tmp_path, think_tokenizer):
    system = [{"role": "system", "content": "Be brief."}]
    rows = verl_rows(2)
    rows[1]["prompt"] = system + rows[1]["prompt"]
    path = write_jsonl(tmp_path / "v.jsonl", rows)
    think = Rendering(chat=True, system_prompt="Think in <think></think>, then answer.")
    out = load_prompt_set(str(path), "train", None, 0, think_tokenizer, rendering=think)
    q0, q1 = gsm8k_rows(2)
    assert out.rows[0].prompt == (f"<|im_start|>system\n{think.system_prompt}<|im_end|>\n"
                                  f"<|im_start|>user\n{q0[0]}<|im_end|>\n<|im_start|>assistant\n")
    # a row with its own system message keeps it
    assert out.rows[1].prompt == f"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n{q1[0]}<|im_end|>\n" \
                                 "<|im_start|>assistant\n"
    assert out.rows[0].prompt_ids == think_tokenizer(out.rows[0].prompt, add_special_tokens=False)["input_ids"]
    assert out.stop == chat_stops(think_tokenizer) == ["<|im_end|>"]
    # a built-in generator's bare question, wrapped as one user message
    (arith,) = load_prompt_set("arithmetic", "eval", 1, 0, think_tokenizer, rendering=Rendering(chat=True)).rows
    assert arith.prompt == f"<|im_start|>user\n{arith.question}<|im_end|>\n<|im_start|>assistant\n"
    # without a chat template, two messages cannot be one plain prompt: the row is named
    with pytest.raises(DataError, match=r"v.jsonl row 2: its messages \(system, user\) need the model's chat "
                                        r"template .* data.chat_template=true"):
        load_prompt_set(str(path), "train", None, 0, think_tokenizer)
    with pytest.raises(ValueError, match="data.system_prompt needs data.chat_template=true"):
        DataConfig(system_prompt="Think.").validate()


def test_long_prompts_fail_naming_the_row_or_are_dropped_and_counted(tmp_path, think_tokenizer, caplog):
    rows = verl_rows(3)
    rows[1]["prompt"][0]["content"] = "How many? " * 200
    path = write_jsonl(tmp_path / "v.jsonl", rows)
    data = DataConfig(source=str(path), eval_source=str(path))
    with pytest.raises(DataError, match=r"v.jsonl row 2: prompt is \d+ tokens, over the 448 the context leaves for it "
                                        r"\(rollout.max_model_len 512 - max_tokens 64\).*1 of 3 rows are too long"):
        load_prompt_sets(data, think_tokenizer, max_model_len=512, max_tokens=(64, 32))
    data.drop_long_prompts = True
    with caplog.at_level(logging.WARNING, logger="rlvr.data.prompts"):
        train, evals = load_prompt_sets(data, think_tokenizer, max_model_len=512, max_tokens=(64, 32))
    assert [r.metadata["source_row"] for r in train.rows] == [1, 3] and train.dropped_long == 1
    assert evals.dropped_long == 1 and "left out 1 of 3 prompts over 448 tokens" in caplog.text


# ---- rows reach the scorer with the verifier their format maps to -----------------------------------------


def test_rows_reach_the_scorer_with_their_mapped_verifier(tmp_path, think_tokenizer):
    from rlvr.rewards import RewardScorer
    from rlvr.data.sampler import group_requests
    from rlvr.types import Group, Sample

    verl = load_prompt_set(str(write_parquet(tmp_path / "v.parquet", verl_rows(2))), "train", None, 0, think_tokenizer)
    ifeval = load_prompt_set(str(write_jsonl(tmp_path / "oi.jsonl", [_oi_if(json.dumps(
        {"func_name": "validate_lowercase"}))])), "train", None, 0, think_tokenizer)
    requests = group_requests(verl.rows + ifeval.rows, step=0, n=2, max_tokens=8, first_uid=0)
    assert [r.verifier for r in requests] == ["math", "math", "ifeval"]
    answers = [f"So the answer is {a}.\nAnswer: {a}" for _, a in gsm8k_rows(2)] + ["the cat sleeps on the warm windowsill and dreams about fish all afternoon long."]
    wrong = ["Answer: -1", "Answer: -1", "A LOUD CAT."]
    scorer = RewardScorer("", {}, timeout_s=30, num_workers=1)
    try:
        for req, right, bad in zip(requests, answers, wrong):
            samples = [Sample(req.prompt_id, req.prompt_ids, [1], text, [0.0], "stop") for text in (right, bad)]
            verdicts = scorer.score(Group(req, samples, version=0))
            assert verdicts.correct == [True, False] and verdicts.error == [None, None], (req.verifier, verdicts)
    finally:
        scorer.close()


# ---- rlvr data show ----------------------------------------------------------------------------------------


def test_data_show_renders_each_format(tmp_path, think_tokenizer):
    from rlvr.data_cli import show

    model = tmp_path / "model"
    think_tokenizer.save_pretrained(str(model))
    sources = {"verl": write_parquet(tmp_path / "v.parquet", verl_rows(3)),
               "open_instruct": write_jsonl(tmp_path / "oi.jsonl", open_instruct_rows(3)),
               "saved": write_saved(tmp_path / "saved", verl_rows(3))}
    q, a = gsm8k_rows(1)[0]
    for name, path in sources.items():
        text = show([f"data.source={path}", f"model.path={model}", "rollout.max_model_len=1024"], 2)
        assert f"source {path} (train): 3 rows" in text and "verifier math" in text, text
        assert DEFAULT_PROMPT_TEMPLATE.format(question=q) in text and f"--- ground truth ---\n{a}\n" in text
        assert text.count("=== row") == 2
    chat = show([f"data.source={sources['verl']}", f"model.path={model}", "rollout.max_model_len=1024",
                 "data.chat_template=true", "data.system_prompt=Think first."], 1)
    assert f"<|im_start|>system\nThink first.<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n" in chat
    assert 'stop ["<|im_end|>"]' in chat


def test_data_show_command_line(tmp_path, think_tokenizer, capsys):
    from rlvr.cli import main

    model = tmp_path / "model"
    think_tokenizer.save_pretrained(str(model))
    path = write_jsonl(tmp_path / "oi.jsonl", open_instruct_rows(2))
    assert main(["data", "show", str(path), "-n", "1", f"model.path={model}", "rollout.max_model_len=1024"]) == 0
    out = capsys.readouterr().out
    assert "format open_instruct" in out and out.count("=== row") == 1
    assert main(["data", "show", str(path), f"model.path={model}"]) == 1  # 256 tokens of context: too short
    assert "oi.jsonl row 1: prompt is" in capsys.readouterr().err
