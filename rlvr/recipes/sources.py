"""Where a mix's documents come from: builtin generators, local JSONL/Parquet files, Hugging Face datasets.

Every reader returns plain texts. A source names one of:

* ``builtin: NAME:WHAT`` — a generator. ``think:arithmetic`` is a recipe generator (chat-formatted
  reasoning traces, rlvr/recipes/sft.py). Otherwise NAME is a builtin dataset (datasets/NAME.py) and
  WHAT is either a corpus (the module's ``WHAT_corpus(n_docs, seed)``, e.g. ``arithmetic:pretrain``)
  or a split of ``generate(split, n, seed)`` whose rows become text through ``text_field``/``template``;
* ``path: FILE`` — JSONL (one object per line), JSON or Parquet (rlvr.data.reader), text from ``text_field``
  or ``template``;
* ``hf: NAME`` — a Hugging Face dataset, streamed with the ``datasets`` library when it is installed.
"""
from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any, Callable, Iterable

from rlvr.data.reader import DataError, read_rows

GENERATOR_CHUNK = 256  # documents drawn to estimate a generator's tokens per document


class MixError(ValueError):
    """A mix file or source that cannot be used; the message names the file, the entry and the field."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def render(where: str, record: Any, number: int, text_field: str, template: str) -> str:
    """A record's document text: ``template.format(**record)`` or ``record[text_field]``."""
    if not isinstance(record, dict):
        raise MixError(f"{where}: row {number}: expected an object, got {type(record).__name__}")
    if template:
        try:
            return template.format(**record)
        except KeyError as exc:
            raise MixError(f"{where}: row {number}: field 'template' uses {{{exc.args[0]}}}, "
                           f"which the row lacks (it has {', '.join(sorted(record))})") from None
    if text_field not in record:
        raise MixError(f"{where}: row {number}: field 'text_field': the row has no {text_field!r} "
                       f"(it has {', '.join(sorted(record))})")
    value = record[text_field]
    if not isinstance(value, str):
        raise MixError(f"{where}: row {number}: field {text_field!r} must be a string, got {type(value).__name__}")
    return value


# ---- recipe generators ---------------------------------------------------------------------------------

def _think_generator(dataset: str, n_docs: int, seed: int) -> list[str]:
    from rlvr.recipes.sft import render_think_text, synthesize_traces

    return [render_think_text(conv) for conv in synthesize_traces(dataset, n_docs, seed)]


RECIPE_GENERATORS: dict[str, Callable[[str, int, int], list[str]]] = {"think": _think_generator}


def generator_for(where: str, spec: str, text_field: str, template: str) -> tuple[Callable[[int, int], list[str]], Path | None]:
    """(fn(n_docs, seed) -> texts, the file that defines it) for ``builtin: NAME:WHAT``."""
    from rlvr.data.builtin import find_builtin, list_builtin, load_builtin

    name, sep, what = spec.partition(":")
    if not sep or not name or not what:
        raise MixError(f"{where}: field 'builtin': expected NAME:WHAT (e.g. arithmetic:pretrain), got {spec!r}")
    if name in RECIPE_GENERATORS:
        if find_builtin(what) is None:
            raise MixError(f"{where}: field 'builtin': {spec!r}: unknown dataset {what!r}; known: "
                           f"{', '.join(list_builtin())}")
        gen = RECIPE_GENERATORS[name]
        return (lambda n, seed: gen(what, n, seed)), Path(__file__).with_name("sft.py")
    if find_builtin(name) is None:
        raise MixError(f"{where}: field 'builtin': unknown generator {name!r}; known: "
                       f"{', '.join(sorted(RECIPE_GENERATORS) + list_builtin())}")
    module = load_builtin(name)
    path = find_builtin(name)
    corpus = getattr(module, f"{what}_corpus", None)
    if callable(corpus):
        return (lambda n, seed: list(corpus(n, seed))), path
    if what in getattr(module, "SPLITS", ()):
        def rows(n: int, seed: int) -> list[str]:
            return [render(where, row, i + 1, text_field, template) for i, row in enumerate(module.generate(what, n, seed))]

        return rows, path
    corpora = sorted(a[: -len("_corpus")] for a in dir(module) if a.endswith("_corpus"))
    raise MixError(f"{where}: field 'builtin': {name} has no corpus or split {what!r}; corpora: "
                   f"{', '.join(corpora) or '(none)'}; splits: {', '.join(getattr(module, 'SPLITS', ())) or '(none)'}")


# ---- files ------------------------------------------------------------------------------------------------

def read_records(where: str, path: Path) -> list[tuple[int, Any]]:
    """(1-based row, record) pairs of a JSONL/JSON/Parquet file, read by rlvr.data.reader (errors as MixError)."""
    try:
        return read_rows(path, where=where)
    except DataError as exc:
        raise MixError(str(exc)) from None


def file_texts(where: str, path: Path, text_field: str, template: str) -> list[str]:
    texts = [render(f"{where}: {path}", record, number, text_field, template)
             for number, record in read_records(where, path)]
    if not texts:
        raise MixError(f"{where}: field 'path': {path} has no rows")
    return texts


# ---- Hugging Face ------------------------------------------------------------------------------------------

def _hf_module(where: str, name: str) -> Any:
    try:
        module = importlib.import_module("datasets")
    except ImportError:
        module = None
    # The repo's own datasets/ folder (builtin generators) imports as a namespace package when the cwd is
    # the repo root; it has no load_dataset, so it must not be taken for the library.
    if module is None or not hasattr(module, "load_dataset"):
        raise MixError(f"{where}: field 'hf': loading the Hugging Face dataset {name!r} needs the `datasets` "
                       "library (pip install datasets) and access to the hub; it is not installed here and "
                       "nothing can be downloaded. Fetch the data where the hub is reachable and point "
                       "`path:` at a local JSONL/Parquet copy.")
    return module


def hf_texts(where: str, name: str, config: str, split: str, text_field: str, template: str,
             enough: Callable[[list[str]], bool]) -> list[str]:
    """Stream rows until `enough(texts)` says the pool covers the budget (checked every 1000 rows)."""
    module = _hf_module(where, name)
    stream: Iterable[Any] = module.load_dataset(name, config or None, split=split, streaming=True)
    texts: list[str] = []
    for number, record in enumerate(stream, start=1):
        texts.append(render(f"{where}: hf {name}", dict(record), number, text_field, template))
        if number % 1000 == 0 and enough(texts):
            break
    if not texts:
        raise MixError(f"{where}: field 'hf': {name} split {split!r} has no rows")
    return texts
