"""Decontamination on planted overlaps: real GSM8K test questions hidden in training documents."""
from __future__ import annotations

import json

import pytest
import yaml

from rlvr.recipes.decontaminate import Decontaminator, EvalIndex, EvalItem, build_decontaminator, load_eval_items, words
from rlvr.recipes.mix import build_mix, load_mix


@pytest.fixture(scope="module")
def gsm8k_items():
    items = load_eval_items("gsm8k")  # the test split shipped in datasets/public
    assert len(items) == 1319
    return items


def test_normalisation_ignores_case_and_punctuation():
    assert words("Natalia sold clips to 48 of her friends, in April!") == \
        ["natalia", "sold", "clips", "to", "48", "of", "her", "friends", "in", "april"]
    assert words("HELLO—world...  again_") == ["hello", "world", "again"]


def test_planted_questions_are_found_and_dropped(gsm8k_items):
    index = EvalIndex(gsm8k_items, n=13)
    planted = gsm8k_items[17].text
    # Same question re-cased and re-punctuated inside other text: still a 13-gram match.
    disguised = "Forum post. " + planted.upper().replace(",", " ;") + " Thanks for reading!"
    # Only the first 12 words of another question: below n, must not match.
    near_miss = " ".join(gsm8k_items[99].text.split()[:12]) + " and then something else entirely happens here."
    clean = ["The weather was pleasant and nobody did any arithmetic at all today, which was nice."] * 3
    decon = Decontaminator(index, drop=True)
    kept = decon.scan("web", clean[:1] + [disguised] + clean[1:] + [near_miss])
    assert kept == clean[:1] + clean[1:] + [near_miss]
    report = decon.report()
    assert report["docs_matched"] == 1 and report["sources"]["web"] == {"docs_scanned": 5, "docs_matched": 1,
                                                                        "docs_dropped": 1}
    match = report["matches"][0]
    assert match["eval_set"] == "gsm8k" and match["eval_id"] == gsm8k_items[17].row_id and match["doc_index"] == 1
    assert match["ngram"] in " ".join(words(planted))
    json.dumps(report)


def test_report_only_mode_keeps_matches():
    items = [EvalItem("toy", "q1", "one two three four five six seven eight nine ten eleven twelve thirteen")]
    decon = Decontaminator(EvalIndex(items, n=13), drop=False)
    doc = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    assert decon.scan("s", [doc]) == [doc]
    assert decon.report()["sources"]["s"] == {"docs_scanned": 1, "docs_matched": 1, "docs_dropped": 0}


def test_n_is_configurable_and_short_items_match_whole():
    items = [EvalItem("toy", "long", "a b c d e f g h"), EvalItem("toy", "short", "what is two plus two")]
    index = EvalIndex(items, n=5)
    assert index.find("x y d e f g h z")[1:] == ("toy", "long")  # a 5-gram of the long item
    assert index.find("x y a b c d z") is None  # only 4 words of it
    assert index.find("Quiz: What is two plus two?")[2] == "short"  # shorter than n: the whole item
    assert EvalIndex(items, n=13).find("d e f g h") is None  # 13: the long item is now matched only whole


def test_the_mixer_drops_planted_documents_before_sampling(tmp_path, gsm8k_items, word_tokenizer):
    planted = {gsm8k_items[i].text for i in (3, 500, 1200)}
    docs = [f"filler document number {i} about gardens and parks" for i in range(200)] + sorted(planted)
    data = tmp_path / "web.jsonl"
    data.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    mix_file = tmp_path / "mix.yaml"
    mix_file.write_text(yaml.safe_dump([{"name": "web", "path": str(data), "tokens": 1000, "max_epochs": 2}]))
    decon = build_decontaminator(["gsm8k"], n=13, drop=True)
    result = build_mix(load_mix(mix_file), word_tokenizer, keep=decon.keep)
    assert not planted & {d.text for d in result.docs}
    report = decon.report()
    assert report["docs_matched"] == 3 and report["sources"]["web"]["docs_dropped"] == 3
    assert {m["eval_id"] for m in report["matches"]} == {gsm8k_items[i].row_id for i in (3, 500, 1200)}
    assert result.manifest["sources"][0]["pool_docs"] == 200


def test_the_arithmetic_split_holds_no_eval_instance():
    # Train and eval instances differ in their operands, so only template overlaps can match; a whole
    # eval question never appears in the training documents.
    from rlvr.data.builtin import load_builtin

    questions = {row["question"] for row in load_builtin("arithmetic").generate("eval", 300, 1)}
    train_text = "\n".join(load_builtin("arithmetic").midtrain_corpus(3000, 0))
    assert not any(q in train_text for q in questions)
    index = EvalIndex([EvalItem("arithmetic", str(i), q) for i, q in enumerate(questions)], n=30)
    assert Decontaminator(index).scan("mid", train_text.split("\n\n")) == train_text.split("\n\n")


def test_the_command_drops_planted_rows_from_a_file(tmp_path, gsm8k_items, capsys):
    from rlvr.recipes.commands import COMMANDS

    rows = [{"text": f"an unrelated note number {i} about trains and weather"} for i in range(20)]
    rows.insert(7, {"text": "Copied: " + gsm8k_items[42].text})
    source = tmp_path / "train.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept, report = tmp_path / "kept.jsonl", tmp_path / "report.json"
    assert COMMANDS["decontaminate"](["--source", str(source), "--eval", "gsm8k", "--drop", "--output", str(kept),
                                      "--report", str(report)]) == 0
    kept_rows = [json.loads(line) for line in kept.read_text().splitlines()]
    assert len(kept_rows) == 20 and all("Copied" not in r["text"] for r in kept_rows)
    written = json.loads(report.read_text())
    assert written["docs_matched"] == 1 and written["matches"][0]["doc_index"] == 7
    assert json.loads(capsys.readouterr().out)["docs_matched"] == 1
