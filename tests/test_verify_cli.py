"""`rlvr verify` (rlvr.verify_cli.main): the JSONL contract and its error handling."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr.verify_cli import main, parse_option

REPO = Path(__file__).resolve().parents[1]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_scores_rows_and_reports_bad_ones(tmp_path, capsys):
    src = write_lines(tmp_path / "in.jsonl", [
        json.dumps({"id": "a", "response": "so \\boxed{4}", "ground_truth": "4", "extra": [1]}),
        json.dumps({"id": "b", "response": "Answer: 5"}),
        "{not json",
        "",
        json.dumps({"id": "c", "response": "#### 1,000", "ground_truth": 1000}),
        json.dumps({"id": "d", "response": 7, "ground_truth": "7"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "e", "response": "\\boxed{3}", "ground_truth": "4"}),
    ])
    out = tmp_path / "out.jsonl"
    assert main(["math", str(src), "-o", str(out), "--workers", "1", "--timeout", "20"]) == 0
    rows = read_rows(out)
    assert len(rows) == 7  # one per non-blank line, in order
    assert rows[0] == {"id": "a", "response": "so \\boxed{4}", "ground_truth": "4", "extra": [1],
                       "reward": 1.0, "error": None}
    assert rows[1]["reward"] == 0.0 and rows[1]["error"] == "row 2: missing field 'ground_truth'"
    assert rows[2]["reward"] == 0.0 and rows[2]["error"].startswith("row 3: not valid JSON")
    assert rows[3]["id"] == "c" and rows[3]["reward"] == 1.0 and rows[3]["error"] is None
    assert rows[4]["error"] == "row 6: field 'response' must be a string, got int"
    assert rows[5]["error"] == "row 7: expected a JSON object, got list"
    assert rows[6]["reward"] == 0.0 and rows[6]["error"] is None
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary == f"rlvr verify math: 7 rows, mean reward 0.2857, 4 errors -> {out}"


def test_options_reach_the_verifier_and_details_flag(tmp_path):
    rows = [json.dumps({"response": "x", "ground_truth": None, "sample_id": i}) for i in range(40)]
    src = write_lines(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert main(["random", str(src), "-o", str(out), "--workers", "2", "--option", "p=1.0", "--details"]) == 0
    scored = read_rows(out)
    assert all(r["reward"] == 1.0 and r["details"]["p"] == 1.0 for r in scored)
    assert main(["random", str(src), "-o", str(out), "--workers", "1", "--option", "p=0", "--option", "seed=3"]) == 0
    assert all(r["reward"] == 0.0 for r in read_rows(out))


def test_verifier_errors_name_the_row(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", [
        json.dumps({"response": "\\boxed{1}", "ground_truth": ""}),
        json.dumps({"response": "\\boxed{1}", "ground_truth": "1"}),
    ])
    out = tmp_path / "out.jsonl"
    assert main(["math", str(src), "-o", str(out), "--workers", "1"]) == 0
    first, second = read_rows(out)
    assert first["error"] == "row 1: bad ground_truth: ground_truth is empty"
    assert second["reward"] == 1.0


def test_unknown_verifier_is_a_one_line_error(tmp_path, capsys):
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": "a", "ground_truth": "a"})])
    assert main(["no_such_verifier", str(src), "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown verifier 'no_such_verifier'" in err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("make_input", ["missing", "directory", "not_utf8"])
def test_unreadable_input_is_a_one_line_error(tmp_path, capsys, make_input):
    path = tmp_path / "input.jsonl"
    if make_input == "directory":
        path.mkdir()
    elif make_input == "not_utf8":
        path.write_bytes(b'{"response": "\xff\xfe"}\n')
    assert main(["format", str(path), "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rlvr verify: error: cannot read {path}")


def test_unwritable_output_and_bad_usage(tmp_path, capsys):
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": "<think>a</think>b", "ground_truth": None})])
    assert main(["format", str(src), "-o", str(tmp_path / "no" / "such" / "dir.jsonl")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["format", str(src)]) == 2
    assert main(["random", str(src), "-o", str(tmp_path / "o.jsonl"), "--option", "p=7"]) == 2
    assert "bad options for verifier 'random'" in capsys.readouterr().err
    assert main(["random", str(src), "-o", str(tmp_path / "o.jsonl"), "--option", "novalue"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["format", str(src), "-o", "x", "--timeout", "abc"])
    assert exc.value.code == 2


def test_parse_option_reads_json_values():
    assert parse_option("p=0.25") == ("p", 0.25)
    assert parse_option("flag=true") == ("flag", True)
    assert parse_option("tag=<think>") == ("tag", "<think>")


def test_list_and_module_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    listed = subprocess.run([sys.executable, "-m", "rlvr.verify_cli", "--list"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert listed.returncode == 0
    names = {line.split("\t")[0] for line in listed.stdout.splitlines()}
    assert {"math", "random", "format"} <= names
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": "<think>a</think>b", "ground_truth": None})])
    run = subprocess.run([sys.executable, "-m", "rlvr.verify_cli", "format", str(src), "-o", "out.jsonl",
                          "--workers", "1"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert read_rows(tmp_path / "out.jsonl")[0]["reward"] == 1.0
    assert "1 rows, mean reward 1.0000, 0 errors" in run.stderr
