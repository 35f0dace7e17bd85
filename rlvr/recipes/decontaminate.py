"""N-gram decontamination of training sources against evaluation sets.

Text is normalised to words (lower case, every run of letters/digits is a word, everything else a
separator). An evaluation item's n-grams (n=13 words by default, as in GPT-3 and the Olmo reports)
go into an index; an item shorter than n words contributes its whole word sequence, so short
questions are not exempt. A training document that contains any indexed n-gram is a match; the
report names the document, the eval set, the eval row and the n-gram, and with `drop` the
document leaves the mix before it is sampled to its budget.

Only the eval sets are held in memory; training documents stream past the index, which is what
makes the same code usable on large mixes (run it per source and shard).
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_REPORTED = 1000  # matches listed in full in the report (all are counted)
MIN_SHORT_WORDS = 4  # an eval item shorter than this many words is too generic to be an n-gram on its own


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclasses.dataclass
class EvalItem:
    eval_set: str
    row_id: str
    text: str


def load_eval_items(spec: str, builtin_split: str = "eval", size: int = 0) -> list[EvalItem]:
    """Eval rows as text to guard: ``NAME`` or ``NAME@SPLIT`` for builtins/public sets, or a .jsonl/.parquet file.

    Public sets default to their test split, builtin generators to `builtin_split`.
    """
    from rlvr.data.prompts import PUBLIC_SETS, load_prompts

    name, _, split = spec.partition("@")
    if not split:
        split = "test" if name.split(":")[0] in PUBLIC_SETS else builtin_split
    rows = load_prompts(name, split=split, n=size or None, seed=0)
    return [EvalItem(spec, str(r.id), r.question) for r in rows]


class EvalIndex:
    """N-grams of evaluation items -> (eval set, row id) of the first item that has each."""

    def __init__(self, items: Iterable[EvalItem], n: int = 13):
        if n < 1:
            raise ValueError(f"decontamination n must be >= 1, got {n}")
        self.n = n
        self.grams: dict[str, tuple[str, str]] = {}
        self.lengths: set[int] = set()
        self.sets: dict[str, dict[str, int]] = {}
        for item in items:
            w = words(item.text)
            stats = self.sets.setdefault(item.eval_set, {"rows": 0, "grams": 0})
            stats["rows"] += 1
            if len(w) >= n:
                grams = [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]
                self.lengths.add(n)
            elif len(w) >= MIN_SHORT_WORDS:
                grams = [" ".join(w)]
                self.lengths.add(len(w))
            else:
                grams = []
            for g in grams:
                if g not in self.grams:
                    self.grams[g] = (item.eval_set, item.row_id)
                    stats["grams"] += 1

    def find(self, text: str) -> tuple[str, str, str] | None:
        """(n-gram, eval set, row id) of the first indexed n-gram in `text`, or None."""
        w = words(text)
        for length in sorted(self.lengths, reverse=True):
            for i in range(len(w) - length + 1):
                hit = self.grams.get(" ".join(w[i:i + length]))
                if hit is not None:
                    return " ".join(w[i:i + length]), hit[0], hit[1]
        return None


class Decontaminator:
    """Scans sources against an EvalIndex; usable as the mixer's `keep` filter. Collects a report."""

    def __init__(self, index: EvalIndex, drop: bool = True):
        self.index = index
        self.drop = drop
        self.sources: dict[str, dict[str, int]] = {}
        self.matches: list[dict[str, Any]] = []
        self.total_matches = 0

    def flags(self, source: str, texts: Sequence[str]) -> list[bool]:
        """Per text: does it match an eval item? Every match is recorded under `source`."""
        stats = self.sources.setdefault(source, {"docs_scanned": 0, "docs_matched": 0, "docs_dropped": 0})
        out = []
        for i, text in enumerate(texts):
            stats["docs_scanned"] += 1
            hit = self.index.find(text)
            out.append(hit is not None)
            if hit is None:
                continue
            stats["docs_matched"] += 1
            stats["docs_dropped"] += int(self.drop)
            self.total_matches += 1
            if len(self.matches) < MAX_REPORTED:
                gram, eval_set, row_id = hit
                self.matches.append({"source": source, "doc_index": i, "eval_set": eval_set, "eval_id": row_id,
                                     "ngram": gram, "doc_excerpt": text[:200]})
        return out

    def scan(self, source: str, texts: Sequence[str]) -> list[str]:
        """The texts to keep: all of them, or with `drop` those that match nothing."""
        hits = self.flags(source, texts)
        return [t for t, hit in zip(texts, hits) if not (hit and self.drop)]

    def keep(self, spec: Any, texts: list[str]) -> list[str]:
        """The mixer's filter: (SourceSpec, the source's whole pool) -> texts to keep.

        The mixer may redraw a generator's pool (bigger) after a scan; each call replaces what the
        previous scan of that source recorded, so the report describes the pool that was used.
        """
        old = self.sources.pop(spec.name, None)
        if old is not None:
            self.total_matches -= old["docs_matched"]
            self.matches = [m for m in self.matches if m["source"] != spec.name]
        return self.scan(spec.name, texts)

    def report(self) -> dict[str, Any]:
        return {"n": self.index.n, "drop": self.drop, "eval_sets": self.index.sets,
                "sources": self.sources, "docs_matched": self.total_matches,
                "matches": self.matches, "matches_listed": len(self.matches)}


def build_decontaminator(eval_sets: Sequence[str], n: int = 13, drop: bool = True, builtin_split: str = "eval",
                         size: int = 0) -> Decontaminator:
    items: list[EvalItem] = []
    for spec in eval_sets:
        items.extend(load_eval_items(spec, builtin_split, size))
    return Decontaminator(EvalIndex(items, n), drop)


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
