"""The mixer: token budgets and weights, seeded sampling, the manifest, and errors that name file/entry/field."""
from __future__ import annotations

import hashlib
import json
import sys
import types

import pytest
import yaml

from rlvr.recipes.mix import MixError, build_mix, load_mix, parse_mix, sample_to_budget


def _jsonl(path, docs, field="text"):
    path.write_text("".join(json.dumps({field: d, "id": i}) + "\n" for i, d in enumerate(docs)))
    return path


def _mix_file(tmp_path, entries, name="mix.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(entries))
    return path


@pytest.fixture
def two_files(tmp_path):
    # Documents of 1..9 words: each counts (words + 1) tokens with the word tokenizer.
    a = _jsonl(tmp_path / "a.jsonl", [" ".join(["alpha"] * (1 + i % 9)) + f" a{i}" for i in range(400)])
    b = _jsonl(tmp_path / "b.jsonl", [" ".join(["beta"] * (1 + i % 5)) + f" b{i}" for i in range(300)], field="body")
    return a, b


def test_token_budgets_are_met_within_one_document(tmp_path, two_files, word_tokenizer):
    a, b = two_files
    mix = load_mix(_mix_file(tmp_path, [{"name": "a", "path": str(a), "tokens": 700},
                                        {"name": "b", "path": str(b), "text_field": "body", "tokens": 300}]))
    result = build_mix(mix, word_tokenizer, seed=3)
    rows = {r["name"]: r for r in result.manifest["sources"]}
    assert 700 <= rows["a"]["tokens"] < 700 + 11  # the longest "a" document counts 11 tokens
    assert 300 <= rows["b"]["tokens"] < 300 + 7
    # the manifest's counts are the documents actually drawn
    for name in ("a", "b"):
        drawn = [d for d in result.docs if d.source == name]
        assert len(drawn) == rows[name]["docs"]
        assert sum(len(d.ids) + 1 for d in drawn) == rows[name]["tokens"]
    assert result.manifest["tokens"] == rows["a"]["tokens"] + rows["b"]["tokens"]
    assert result.manifest["docs"] == len(result.docs)


def test_weights_share_the_total_budget(tmp_path, two_files, word_tokenizer):
    a, b = two_files
    mix = load_mix(_mix_file(tmp_path, [{"name": "a", "path": str(a), "weight": 3},
                                        {"name": "b", "path": str(b), "text_field": "body", "weight": 1}]))
    assert mix.budgets(1600) == [1200, 400]
    result = build_mix(mix, word_tokenizer, total_tokens=1600, seed=0)
    rows = {r["name"]: r for r in result.manifest["sources"]}
    assert rows["a"]["budget_tokens"] == 1200 and rows["b"]["budget_tokens"] == 400
    assert abs(rows["a"]["share"] - 0.75) < 0.01 and abs(rows["b"]["share"] - 0.25) < 0.01
    with pytest.raises(MixError, match="total token budget"):
        mix.budgets(0)


def test_fixed_and_weighted_budgets_combine(tmp_path, two_files):
    a, b = two_files
    mix = load_mix(_mix_file(tmp_path, [{"name": "a", "path": str(a), "tokens": 500},
                                        {"name": "b", "path": str(b), "weight": 2}]))
    assert mix.budgets(1500) == [500, 1000]
    with pytest.raises(MixError, match="leaves nothing"):
        mix.budgets(400)


def test_sampling_is_seeded(tmp_path, two_files, word_tokenizer):
    a, _ = two_files
    mix = load_mix(_mix_file(tmp_path, [{"name": "a", "path": str(a), "tokens": 800}]))
    first = [d.text for d in build_mix(mix, word_tokenizer, seed=1).docs]
    again = [d.text for d in build_mix(mix, word_tokenizer, seed=1).docs]
    other = [d.text for d in build_mix(mix, word_tokenizer, seed=2).docs]
    assert first == again
    assert first != other


def test_small_pools_repeat_only_up_to_max_epochs(word_tokenizer, tmp_path):
    small = _jsonl(tmp_path / "small.jsonl", ["one two three"] * 10)  # 10 docs x 4 tokens = 40 tokens
    ok = load_mix(_mix_file(tmp_path, [{"name": "s", "path": str(small), "tokens": 100, "max_epochs": 3}]))
    row = build_mix(ok, word_tokenizer).manifest["sources"][0]
    assert row["tokens"] == 100 and row["docs"] == 25 and row["unique_docs"] == 10 and row["epochs"] == 2.5
    too_much = load_mix(_mix_file(tmp_path, [{"name": "s", "path": str(small), "tokens": 100}], "m2.yaml"))
    with pytest.raises(MixError, match=r"sources\[0\] \(s\).*2.50 epochs.*max_epochs=1"):
        build_mix(too_much, word_tokenizer)


def test_sample_to_budget_takes_whole_documents_in_order_once():
    import random

    chosen, epochs = sample_to_budget([5, 5, 5, 5], 12, 1.0, random.Random(0), "w")
    assert len(chosen) == 3 and len(set(chosen)) == 3 and epochs == 0.75


def test_manifest_records_seed_files_and_hashes(tmp_path, two_files, word_tokenizer):
    a, b = two_files
    path = _mix_file(tmp_path, [{"name": "a", "path": str(a), "tokens": 300, "category": "web"},
                                {"name": "gen", "builtin": "arithmetic:midtrain", "tokens": 400, "category": "math"}])
    manifest = build_mix(load_mix(path), word_tokenizer, seed=7).manifest
    assert manifest["seed"] == 7 and manifest["mix_file"] == str(path)
    assert manifest["mix_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    rows = {r["name"]: r for r in manifest["sources"]}
    assert rows["a"]["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert rows["a"]["category"] == "web" and rows["gen"]["category"] == "math"
    # a generator is hashed by the file that defines it, so a changed generator shows in the manifest
    from rlvr.data.builtin import find_builtin

    assert rows["gen"]["sha256"] == hashlib.sha256(find_builtin("arithmetic").read_bytes()).hexdigest()
    assert rows["gen"]["tokens"] >= 400 and rows["gen"]["pool_tokens"] >= 400
    json.dumps(manifest)  # JSON-serialisable as written beside the checkpoint


def test_generators_templates_and_joined_long_documents(tmp_path, word_tokenizer):
    path = _mix_file(tmp_path, [
        {"name": "qa", "builtin": "arithmetic:train", "template": "Q: {question} A: {answer}", "tokens": 300},
        {"name": "long", "builtin": "arithmetic:midtrain", "join": 5, "tokens": 600},
        {"name": "think", "builtin": "think:arithmetic", "tokens": 200},
    ])
    result = build_mix(load_mix(path), word_tokenizer)
    qa = [d.text for d in result.docs if d.source == "qa"]
    assert qa and all(t.startswith("Q: ") and " A: " in t for t in qa)
    long_docs = [d.text for d in result.docs if d.source == "long"]
    assert long_docs and all(t.count("\n\n") >= 4 for t in long_docs)  # five documents glued by blank lines
    assert sum(len(t) for t in long_docs) / len(long_docs) > 4 * sum(len(t) for t in qa) / len(qa)
    think = [d.text for d in result.docs if d.source == "think"]
    assert all("<think>" in t and "</think>" in t and t.startswith("<|im_start|>user") for t in think)


@pytest.mark.parametrize("entry, field", [
    ({"name": "x", "tokens": 5}, "builtin/path/hf"),
    ({"name": "x", "builtin": "arithmetic:pretrain"}, "tokens/weight"),
    ({"name": "x", "builtin": "arithmetic:pretrain", "tokens": 5, "weight": 1}, "tokens/weight"),
    ({"name": "x", "builtin": "arithmetic:pretrain", "weight": -1}, "'weight'"),
    ({"name": "x", "builtin": "arithmetic:pretrain", "tokens": 2.5}, "'tokens'"),
    ({"name": "x", "builtin": "arithmetic:pretrain", "tokens": 5, "colour": "red"}, "'colour'"),
    ({"name": "x", "path": "data.csv", "tokens": 5}, "'path'"),
    ({"builtin": "arithmetic:pretrain", "tokens": 5}, "'name'"),
    ({"name": "x", "builtin": "arithmetic", "tokens": 5}, "'builtin'"),
])
def test_bad_entries_name_the_file_the_entry_and_the_field(tmp_path, entry, field):
    path = _mix_file(tmp_path, [{"name": "ok", "builtin": "arithmetic:pretrain", "tokens": 10}, entry])
    with pytest.raises(MixError) as err:
        load_mix(path)
    message = str(err.value)
    assert str(path) in message and "sources[1]" in message and field in message


def test_bad_sources_fail_when_read_naming_row_and_field(tmp_path, word_tokenizer):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    mix = load_mix(_mix_file(tmp_path, [{"name": "d", "path": str(data), "tokens": 2}]))
    with pytest.raises(MixError, match=r"sources\[0\] \(d\).*row 2.*'text_field'"):
        build_mix(mix, word_tokenizer)
    gen = load_mix(_mix_file(tmp_path, [{"name": "g", "builtin": "nosuch:thing", "tokens": 2}], "g.yaml"))
    with pytest.raises(MixError, match=r"sources\[0\] \(g\): field 'builtin': unknown generator 'nosuch'"):
        build_mix(gen, word_tokenizer)
    tmpl = load_mix(_mix_file(tmp_path, [{"name": "t", "builtin": "arithmetic:train", "template": "{nope}",
                                          "tokens": 2}], "t.yaml"))
    with pytest.raises(MixError, match=r"field 'template' uses \{nope\}"):
        build_mix(tmpl, word_tokenizer)


def test_duplicate_names_and_empty_mixes_are_errors(tmp_path):
    with pytest.raises(MixError, match=r"sources\[1\] \(a\): field 'name'.*repeats sources\[0\]"):
        load_mix(_mix_file(tmp_path, [{"name": "a", "builtin": "arithmetic:pretrain", "tokens": 1}] * 2))
    with pytest.raises(MixError, match="non-empty list"):
        load_mix(_mix_file(tmp_path, [], "empty.yaml"))


def test_hugging_face_sources_say_what_is_missing(tmp_path, word_tokenizer, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", types.ModuleType("datasets"))  # no load_dataset: not the library
    mix = load_mix(_mix_file(tmp_path, [{"name": "h", "hf": "allenai/some-set", "tokens": 10}]))
    with pytest.raises(MixError, match=r"sources\[0\] \(h\): field 'hf'.*`datasets` library.*local JSONL/Parquet"):
        build_mix(mix, word_tokenizer)


def test_hugging_face_sources_stream_through_load_dataset(tmp_path, word_tokenizer, monkeypatch):
    calls = {}

    def load_dataset(name, config, split, streaming):
        calls.update(name=name, config=config, split=split, streaming=streaming)
        return iter({"content": f"row {i} has words"} for i in range(5000))

    fake = types.ModuleType("datasets")
    fake.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", fake)
    mix = parse_mix([{"name": "h", "hf": "org/set", "hf_config": "en", "hf_split": "train", "text_field": "content",
                      "tokens": 100}], "inline", tmp_path)
    row = build_mix(mix, word_tokenizer).manifest["sources"][0]
    assert calls == {"name": "org/set", "config": "en", "split": "train", "streaming": True}
    assert row["tokens"] == 100 and row["pool_docs"] == 1000  # stopped streaming once the budget was covered
