"""Rebuild math_verify_cases.jsonl from math-verify's source distribution (run by hand).

    pip download --no-deps --no-binary :all: math-verify==0.9.0 -d /tmp/mv
    tar xzf /tmp/mv/math_verify-0.9.0.tar.gz -C /tmp/mv
    python tests/verifiers/data/extract_math_verify_cases.py /tmp/mv/math_verify-0.9.0

Reads each ``tests/test_*.py`` as a syntax tree (nothing of it is imported or run) and keeps
the literal rows of every ``@pytest.mark.parametrize`` whose names include gold, pred and a
verdict: data only, one JSON object per row, with the file, the test function and any
per-row option (precision, strict, allow_set_relation_comp) so the reader knows the setting
math-verify's own test used.
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

VERDICT_NAMES = ("expected", "result")
OPTION_NAMES = ("precision", "strict", "allow_set_relation_comp")


def _param_names(node: ast.expr) -> list[str]:
    value = ast.literal_eval(node)
    names = value.split(",") if isinstance(value, str) else list(value)
    return [n.strip() for n in names]


def _match_types(func: ast.FunctionDef) -> list[str] | None:
    """The match_types= literal of the compare_strings call in the test body, if any."""
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "match_types":
                    return ast.literal_eval(kw.value)
    return None


def rows_of(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef):
            continue
        for deco in func.decorator_list:
            if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize"):
                continue
            names = _param_names(deco.args[0])
            verdict = next((n for n in VERDICT_NAMES if n in names), None)
            if "gold" not in names or "pred" not in names or verdict is None:
                continue
            for index, node in enumerate(deco.args[1].elts):
                try:
                    row = ast.literal_eval(node)
                except ValueError:  # a computed row (f-string, call): not plain data, left out
                    print(f"skipped {path.name}::{func.name}[{index}] (not a literal)")
                    continue
                values = dict(zip(names, row))
                options = {k: values[k] for k in OPTION_NAMES if k in values}
                yield {
                    "source": f"tests/{path.name}::{func.name}[{index}]",
                    "gold": values["gold"],
                    "pred": values["pred"],
                    "expected": int(values[verdict]),
                    "match_types": _match_types(func),
                    "options": options,
                }


def main(sdist: str) -> None:
    root = Path(sdist)
    out = Path(__file__).with_name("math_verify_cases.jsonl")
    rows = [r for p in sorted((root / "tests").glob("test_*.py")) for r in rows_of(p)]
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
