"""The one reader of row files: JSON Lines, JSON, Parquet, `save_to_disk` folders and Hub datasets, through `datasets`.

``read_rows(source)`` returns ``[(row number, row dict), ...]``. Every caller that reads rows from a file uses
it (prompt sets, recipe mixes, SFT conversations, ``rlvr verify``), so every file error reads the same:
:class:`DataError` names the file, the 1-based row and, where the caller checks fields, the field.

A Hub dataset is named ``hf:ORG/NAME[:CONFIG][:SPLIT]`` (split default ``train``). It is read with
``datasets.load_dataset``, so a dataset downloaded once is read from the local Hugging Face cache when offline
(``HF_HUB_OFFLINE=1``); one that is neither cached nor reachable is a :class:`DataError` saying so.

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
from typing import Any, Iterable, Iterator, Literal

SUFFIXES = (".jsonl", ".json", ".parquet")
HUB_PREFIX = "hf:"
BATCH_LINES = 4096  # lines taken from the Arrow table at a time


class DataError(ValueError):
    """A dataset file or row that cannot be used; the message names the file, the row and the field.

    ``file``, ``row`` and ``problem`` are kept apart for callers that report a row rather than stop on it
    (``rlvr verify`` writes ``row N: problem`` into that row's output).
    """

    def __init__(self, problem: str, file: str | Path | None = None, row: int | None = None, where: str = ""):
        self.problem, self.file, self.row, self.where = problem, file, row, where
        place = "" if file is None else str(file) if row is None else f"{file} row {row}"
        super().__init__(": ".join(part for part in (where, place, problem) if part))


def read_rows(source: str | Path, *, where: str = "", bad_rows: Literal["raise", "keep"] = "raise",
              hub_split: str = "train") -> list[tuple[int, Any]]:
    """(row number, row) pairs of a .jsonl/.json/.parquet file, a ``save_to_disk`` folder or ``hf:ORG/NAME...``.

    where: what is being read, put before the file name in messages (e.g. ``"sources[0] (web)"``).
    bad_rows: "raise" stops at the first row that is not a JSON object; "keep" returns a :class:`DataError`
    in that row's place so the caller can report it and go on. File-level problems always raise.
    hub_split: the split of an ``hf:`` name that names none.
    An empty file gives an empty list; whether that is an error is the caller's call.
    """
    if str(source).startswith(HUB_PREFIX):
        return _checked(str(source), enumerate(_hub_dataset(str(source), where, hub_split), start=1), where, bad_rows)
    path = Path(source)
    if not path.is_dir() and not path.is_file():
        raise DataError("file not found", path, where=where)
    if path.is_file() and path.suffix not in SUFFIXES:
        raise DataError(f"unsupported file type {path.suffix!r}; expected .jsonl, .json or .parquet", path,
                        where=where)
    return _checked(path, _records(path, where), where, bad_rows)


def _checked(path: str | Path, records: Iterable[tuple[int, Any]], where: str, bad_rows: str) -> list[tuple[int, Any]]:
    out = []
    for number, row in records:
        if not isinstance(row, (dict, DataError)):
            row = DataError(f"expected a JSON object, got {type(row).__name__}", path, number, where)
        if isinstance(row, DataError) and bad_rows == "raise":
            raise row
        out.append((number, row))
    return out


def _records(path: Path, where: str) -> Iterator[tuple[int, Any]]:
    """Rows one at a time: the file's table stays memory-mapped, only the parsed rows are held."""
    if path.is_dir():
        yield from enumerate(_saved_dataset(path, where), start=1)
    elif path.suffix == ".parquet":
        with _dataset(path, "parquet", where, "not a readable Parquet file") as table:
            yield from enumerate(table, start=1)
    else:
        with _dataset(path, "text", where, "not readable as UTF-8 text") as table:
            whole = _one_document(table) if path.suffix == ".json" else None
            if whole is not None:
                yield from enumerate(whole, start=1)
                return
            number = 0
            for batch in table.iter(batch_size=BATCH_LINES):
                for line in batch["text"]:
                    number += 1
                    if line.strip():
                        yield number, _parse(line, path, number, where)


def _one_document(table: Any) -> list[Any] | None:
    """A .json file holding one JSON array (its items are the rows) or object (one row); None: JSON Lines."""
    try:
        whole = json.loads("\n".join(table["text"]))
    except json.JSONDecodeError:
        return None
    return whole if isinstance(whole, list) else [whole] if isinstance(whole, dict) else None


def _parse(line: str, path: Path, number: int, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return DataError(f"not valid JSON ({exc.msg} at column {exc.colno})", path, number, where)


@contextlib.contextmanager
def _dataset(path: Path, builder: str, where: str, unreadable: str) -> Iterator[Any]:
    """One local file as a ``datasets.Dataset`` through ``builder``; its Arrow cache is deleted afterwards."""
    import datasets

    # data_files is a glob pattern: escaped, "a[1].jsonl" is that file and not "a1.jsonl".
    pattern = glob.escape(str(path.resolve()))
    with tempfile.TemporaryDirectory(prefix="rlvr-read-") as cache, _quiet(datasets):
        try:
            table = datasets.load_dataset(builder, data_files=pattern, split="train", cache_dir=cache)
        except Exception as exc:
            raise DataError(f"{unreadable} ({_first_line(exc)})", path, where=where) from None
        yield table


def _saved_dataset(path: Path, where: str) -> Any:
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
    return saved


def parse_hub_name(source: str, default_split: str = "train") -> tuple[str, str | None, str]:
    """``hf:ORG/NAME[:CONFIG][:SPLIT]`` as (name, config or None, split); ValueError naming the form otherwise."""
    parts = source[len(HUB_PREFIX):].split(":")
    if not parts[0] or parts[0].count("/") != 1 or len(parts) > 3 or not all(parts):
        raise ValueError(f"{source!r} is not a Hub dataset name; expected hf:ORG/NAME[:CONFIG][:SPLIT]")
    config = parts[1] if len(parts) > 1 else None
    return parts[0], config, parts[2] if len(parts) > 2 else default_split


def _hub_dataset(source: str, where: str, default_split: str) -> Any:
    """A Hub dataset's split: downloaded (or, offline, read from the cache) by ``datasets.load_dataset``."""
    import datasets

    try:
        name, config, split = parse_hub_name(source, default_split)
    except ValueError as exc:
        raise DataError(str(exc), where=where) from None
    cache = datasets.config.HF_DATASETS_CACHE
    with _quiet(datasets):
        try:
            return datasets.load_dataset(name, config, split=split, cache_dir=str(cache))
        except Exception as exc:
            offline = " (offline: HF_HUB_OFFLINE is set)" if datasets.config.HF_HUB_OFFLINE else ""
            raise DataError(f"not in the local Hugging Face cache {cache} and not downloadable{offline}; "
                            f"download it once where the Hub is reachable, or point HF_HOME at a cache that holds "
                            f"it ({_first_line(exc)})", source, where=where) from None


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
