"""``rlvr verify``: score a JSONL file with a verifier.

    rlvr verify NAME INPUT.jsonl -o OUTPUT.jsonl [--timeout S] [--workers N] [--option key=value ...]
    rlvr verify --list

Each input row needs ``response`` and ``ground_truth`` (and ``prompt``/``metadata`` where the
verifier uses them). Each output row is the input row plus ``reward`` (float) and ``error``
(null or a message). A row that cannot be scored (bad JSON, missing field, verifier error,
timeout) gets reward 0 and an error naming its line number; every other row is still
scored. Blank lines are skipped. ``python -m rlvr.verify_cli`` works the same way.

The input is read by rlvr's one row reader (rlvr.data.reader, so Parquet works too); that is why this
command lives in rlvr and not in the verifiers package, which does not depend on rlvr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from rlvr.data.reader import DataError, read_rows
from verifiers.base import _lookup, get_verifier, list_verifiers  # _lookup: class/function without building it
from verifiers.pool import ScoreItem, VerifierPool

PROG = "rlvr verify"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line on stderr and exit code 2, like every other usage error here.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Score a JSONL file of responses with a verifier.")
    p.add_argument("name", nargs="?", help="verifier name (see --list)")
    p.add_argument("input", nargs="?", help="input JSONL: rows with response, ground_truth[, prompt, metadata]")
    p.add_argument("-o", "--output", help="output JSONL: each input row plus reward and error")
    p.add_argument("--list", action="store_true", help="list the verifiers that can be named, then exit")
    p.add_argument("--timeout", type=float, default=10.0, help="hard per-row timeout in seconds (default 10)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="verifier option, repeatable; VALUE is read as JSON when it parses (0.3, true), else text")
    p.add_argument("--details", action="store_true", help="also write each result's details")
    return p


def parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--option {text!r}: expected KEY=VALUE")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _describe(name: str) -> str:
    try:
        obj = _lookup(name)
    except Exception as exc:  # a plug-in that fails to import is still listed
        return f"(cannot load: {type(exc).__name__}: {exc})"
    doc = (obj.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, row or None, problem or None) for every row; a bad row is reported, not fatal."""
    out: list[tuple[int, dict[str, Any] | None, str | None]] = []
    for number, row in read_rows(path, bad_rows="keep"):
        if isinstance(row, DataError):
            out.append((number, None, f"row {number}: {row.problem}"))
        else:
            out.append((number, row, _row_problem(number, row)))
    return out


def _row_problem(lineno: int, row: dict[str, Any]) -> str | None:
    if "response" not in row:
        return f"row {lineno}: missing field 'response'"
    if not isinstance(row["response"], str):
        return f"row {lineno}: field 'response' must be a string, got {type(row['response']).__name__}"
    if "ground_truth" not in row:
        return f"row {lineno}: missing field 'ground_truth'"
    if row.get("prompt") is not None and not isinstance(row["prompt"], str):
        return f"row {lineno}: field 'prompt' must be a string, got {type(row['prompt']).__name__}"
    if row.get("metadata") is not None and not isinstance(row["metadata"], dict):
        return f"row {lineno}: field 'metadata' must be an object, got {type(row['metadata']).__name__}"
    return None


def _item(name: str, row: dict[str, Any]) -> ScoreItem:
    metadata = dict(row.get("metadata") or {})
    if "sample_id" in row and "sample_id" not in metadata:
        metadata["sample_id"] = row["sample_id"]
    return ScoreItem(name, row["response"], row["ground_truth"], row.get("prompt"), metadata or None)


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for name in list_verifiers():
            print(f"{name}\t{_describe(name)}")
        return 0
    if not args.name or not args.input or not args.output:
        print(f"{PROG}: error: NAME, INPUT and -o OUTPUT are required (or --list)", file=sys.stderr)
        return 2
    if args.timeout <= 0 or (args.workers is not None and args.workers < 1):
        print(f"{PROG}: error: --timeout must be > 0 and --workers >= 1", file=sys.stderr)
        return 2
    try:
        options = dict(parse_option(o) for o in args.option)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        # Built once here so an unknown name or a bad option fails before any work starts.
        probe = get_verifier(args.name, **options)
        close = getattr(probe, "close", None)
        if callable(close):
            close()
    except KeyError as exc:
        print(f"{PROG}: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:
        print(f"{PROG}: error: bad options for verifier {args.name!r}: {exc}", file=sys.stderr)
        return 2

    input_path, output_path = Path(args.input), Path(args.output)
    try:
        rows = _read_rows(input_path)
    except (DataError, OSError) as exc:
        print(f"{PROG}: error: cannot read {input_path}: {exc}", file=sys.stderr)
        return 2

    scorable = [(i, row) for i, (_, row, problem) in enumerate(rows) if row is not None and problem is None]
    results: dict[int, Any] = {}
    if scorable:
        workers = min(args.workers or os.cpu_count() or 1, len(scorable))
        with VerifierPool(num_workers=workers, timeout_s=args.timeout,
                          verifier_options={args.name: options}) as pool:
            scored = pool.score([_item(args.name, row) for _, row in scorable])
        results = {i: r for (i, _), r in zip(scorable, scored)}

    total, errors = 0.0, 0
    lines: list[str] = []
    for i, (lineno, row, problem) in enumerate(rows):
        out = dict(row) if row is not None else {"row": lineno}
        if i in results:
            res = results[i]
            reward, error = res.reward, (f"row {lineno}: {res.error}" if res.error else None)
            if args.details:
                out["details"] = res.details
        else:
            reward, error = 0.0, problem
        out["reward"], out["error"] = float(reward), error
        total += reward
        errors += error is not None
        lines.append(json.dumps(out, ensure_ascii=False, default=str))

    try:
        _write_atomic(output_path, "".join(line + "\n" for line in lines))
    except OSError as exc:
        print(f"{PROG}: error: cannot write {output_path}: {exc}", file=sys.stderr)
        return 2
    mean = total / len(rows) if rows else 0.0
    print(f"{PROG} {args.name}: {len(rows)} rows, mean reward {mean:.4f}, {errors} errors -> {output_path}",
          file=sys.stderr)
    return 0


def _write_atomic(path: Path, text: str) -> None:
    """Write next to the target then rename, so a failed run never leaves half a file."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
