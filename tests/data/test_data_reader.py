"""The one row reader (rlvr.data.reader): JSONL, JSON, Parquet and saved datasets, errors naming file and row."""
from __future__ import annotations

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr.data.reader import DataError, read_rows


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_rows_are_numbered_by_line_and_keep_their_own_types(tmp_path):
    # Mixed types across rows: a schema-inferring reader would make 3 into 3.0, give row 1 the "c" key of
    # row 3 as null, or fail on "id" being a number and then a string. Each row must come back as written.
    path = write(tmp_path / "rows.jsonl", '{"id": 1, "x": 3, "m": {"a": 1}}\n\n'
                                          '{"id": "two", "x": 2.5, "m": {"c": [1, "b"]}}\n'
                                          '{"id": 3, "s": "line\\u2028break"}\n')
    assert read_rows(path) == [(1, {"id": 1, "x": 3, "m": {"a": 1}}),
                               (3, {"id": "two", "x": 2.5, "m": {"c": [1, "b"]}}),
                               (4, {"id": 3, "s": "line\u2028break"})]
    assert isinstance(read_rows(path)[0][1]["x"], int)


def test_json_array_and_parquet_and_saved_dataset(tmp_path):
    rows = [{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}]
    array = write(tmp_path / "rows.json", json.dumps(rows, indent=2))
    assert read_rows(array) == list(enumerate(rows, start=1))
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), table)
    assert read_rows(table) == list(enumerate(rows, start=1))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    assert read_rows(tmp_path / "saved") == list(enumerate(rows, start=1))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows),
                          "test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "two"))
    with pytest.raises(DataError, match=r"two: holds splits train, test; name one"):
        read_rows(tmp_path / "two")


@pytest.mark.parametrize("line, message", [
    ('{"question": "q", ', "rows.jsonl row 2: not valid JSON (Expecting property name"),
    ('[1, 2]', "rows.jsonl row 2: expected a JSON object, got list"),
    ('"text"', "rows.jsonl row 2: expected a JSON object, got str"),
])
def test_bad_rows_name_file_and_row(tmp_path, line, message):
    path = write(tmp_path / "rows.jsonl", '{"ok": 1}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        read_rows(path, where="sources[0] (web)")
    assert str(err.value).startswith("sources[0] (web): ") and message in str(err.value)
    assert err.value.row == 2 and err.value.file == path
    kept = read_rows(path, bad_rows="keep")  # for callers that report a row and go on (rlvr verify)
    assert kept[0] == (1, {"ok": 1}) and isinstance(kept[1][1], DataError) and kept[1][1].row == 2


def test_file_problems(tmp_path):
    with pytest.raises(DataError, match=r"absent.jsonl: file not found"):
        read_rows(tmp_path / "absent.jsonl")
    with pytest.raises(DataError, match=r"data.csv: unsupported file type '.csv'"):
        read_rows(write(tmp_path / "data.csv", "a,b\n"))
    (tmp_path / "bytes.jsonl").write_bytes(b'{"response": "\xff\xfe"}\n')
    with pytest.raises(DataError, match=r"bytes.jsonl: not readable as UTF-8 text \(UnicodeDecodeError"):
        read_rows(tmp_path / "bytes.jsonl")
    with pytest.raises(DataError, match=r"broken.parquet: not a readable Parquet file"):
        read_rows(write(tmp_path / "broken.parquet", "not parquet"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match=r"folder: a folder, but not one written by datasets' save_to_disk"):
        read_rows(tmp_path / "folder")
    assert read_rows(write(tmp_path / "empty.jsonl", "\n\n")) == []


def test_file_names_are_not_patterns(tmp_path):
    write(tmp_path / "a1.jsonl", '{"from": "a1"}\n')
    write(tmp_path / "a[1].jsonl", '{"from": "a[1]"}\n')
    write(tmp_path / "b*.jsonl", '{"from": "b*"}\n')
    write(tmp_path / "bx.jsonl", '{"from": "bx"}\n')
    assert read_rows(tmp_path / "a[1].jsonl") == [(1, {"from": "a[1]"})]
    assert read_rows(tmp_path / "b*.jsonl") == [(1, {"from": "b*"})]
