"""The one reader of row files: JSON Lines, JSON, Parquet and `save_to_disk` folders, through Hugging Face `datasets`.

``read_rows(source)`` returns ``[(row number, row dict), ...]``. Every caller that reads rows from a file uses
it (prompt sets, recipe mixes, SFT conversations, ``rlvr verify``), so every file error reads the same:
:class:`DataError` names the file, the 1-based row and, where the caller checks fields, the field.

Row numbers: the line number for JSON Lines (blank lines hold no row but keep the count, so the number is
the line an editor shows); the position in the array for a JSON array; the position in the table otherwise.

Why JSON lines are not read with ``datasets``' JSON builder: it infers one Arrow schema across rows, so it
turns ``3`` into ``3.0`` when another row has ``2.5``, gives nested objects the keys of every other row
(as nulls), and on a field that is a number in one row and a string in another either fails with a
block-relative row number or re-encodes the column. Here ``datasets`` reads the file as lines (its ``text``
builder) and each line is parsed on its own, so a row keeps exactly the types it was written with and a bad
line is reported by its number. Parquet and saved datasets carry their own schema; nothing is inferred.
"""
from __future__ import annotations

import contextlib
import glob
import json
import tempfile
from pathlib import Path
from typing import Any, Iterator, Literal

SUFFIXES = (".jsonl", ".json", ".parquet")


class DataError(ValueError):
    """A dataset file or row that cannot be used; the message names the file, the row and the field.

    ``file``, ``row`` and ``problem`` are kept apart for callers that report a row rather than stop on it
    (``rlvr verify`` writes ``row N: problem`` into that row's output).
    """

    def __init__(self, problem: str, file: str | Path | None = None, row: int | None = None, where: str = ""):
        self.problem, self.file, self.row, self.where = problem, file, row, where
        place = "" if file is None else str(file) if row is None else f"{file} row {row}"
        super().__init__(": ".join(part for part in (where, place, problem) if part))


def read_rows(source: str | Path, *, where: str = "",
              bad_rows: Literal["raise", "keep"] = "raise") -> list[tuple[int, Any]]:
    """(row number, row) pairs of a .jsonl/.json/.parquet file or a ``save_to_disk`` folder.

    where: what is being read, put before the file name in messages (e.g. ``"sources[0] (web)"``).
    bad_rows: "raise" stops at the first row that is not a JSON object; "keep" returns a :class:`DataError`
    in that row's place so the caller can report it and go on. File-level problems always raise.
    An empty file gives an empty list; whether that is an error is the caller's call.
    """
    path = Path(source)
    if path.is_dir():
        rows: list[tuple[int, Any]] = list(enumerate(_saved_dataset(path, where), start=1))
    elif not path.is_file():
        raise DataError("file not found", path, where=where)
    elif path.suffix == ".parquet":
        rows = list(enumerate(_load(path, "parquet", where, "not a readable Parquet file"), start=1))
    elif path.suffix in (".jsonl", ".json"):
        rows = _json_rows(path, where)
    else:
        raise DataError(f"unsupported file type {path.suffix!r}; expected .jsonl, .json or .parquet", path,
                        where=where)
    out = []
    for number, row in rows:
        if not isinstance(row, (dict, DataError)):
            row = DataError(f"expected a JSON object, got {type(row).__name__}", path, number, where)
        if isinstance(row, DataError) and bad_rows == "raise":
            raise row
        out.append((number, row))
    return out


def _json_rows(path: Path, where: str) -> list[tuple[int, Any]]:
    lines = [record["text"] for record in _load(path, "text", where, "not readable as UTF-8 text")]
    if path.suffix == ".json":
        try:
            whole = json.loads("\n".join(lines))
        except json.JSONDecodeError:
            whole = None  # not one JSON document: read it as JSON Lines
        if isinstance(whole, (list, dict)):
            return list(enumerate(whole if isinstance(whole, list) else [whole], start=1))
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            rows.append((number, DataError(f"not valid JSON ({exc.msg} at column {exc.colno})", path, number,
                                           where)))
    return rows


def _load(path: Path, builder: str, where: str, unreadable: str) -> list[dict[str, Any]]:
    """All records of one local file through a ``datasets`` builder, leaving no cache behind."""
    import datasets

    # data_files is a glob pattern: escaped, "a[1].jsonl" is that file and not "a1.jsonl".
    pattern = glob.escape(str(path.resolve()))
    try:
        with tempfile.TemporaryDirectory(prefix="rlvr-read-") as cache, _quiet(datasets):
            table = datasets.load_dataset(builder, data_files=pattern, split="train", cache_dir=cache,
                                          keep_in_memory=True)
            return table.to_list()
    except Exception as exc:
        raise DataError(f"{unreadable} ({_first_line(exc)})", path, where=where) from None


def _saved_dataset(path: Path, where: str) -> list[dict[str, Any]]:
    import datasets

    try:
        saved = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise DataError(f"a folder, but not one written by datasets' save_to_disk ({_first_line(exc)})", path,
                        where=where) from None
    if isinstance(saved, datasets.DatasetDict):
        if len(saved) != 1:
            raise DataError(f"holds splits {', '.join(saved)}; name one: {path / next(iter(saved))}", path,
                            where=where)
        saved = next(iter(saved.values()))
    return saved.to_list()


@contextlib.contextmanager
def _quiet(datasets: Any) -> Iterator[None]:
    """No progress bars for reading a local file (they would interleave with training logs)."""
    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.utils.enable_progress_bars()


def _first_line(exc: BaseException) -> str:
    """The innermost cause, on one line: datasets wraps the real error (e.g. a UnicodeDecodeError)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
