"""Hashed word n-gram features: the one text representation the selector's student and the automatic
grouping share (the DCLM / fastText family of cheap scorers).

A document becomes words (runs of letters, runs of digits, single symbols), lower-cased. Two streams are
hashed into `buckets` signed buckets: n-grams of length 1..`ngram` over words with every number replaced
by <n> (the shape of the text), and n-grams of length `raw_ngram` over the raw words (whole equations such as
"7 + 5 = 12", which a shape-only view cannot tell from "7 + 5 = 13"). The vector is L2-normalised.
A third stream pairs every distinct word of the document with every distinct operator symbol in it
(+ - * /): the documents are about operations, and whether "left" comes with "-" or with "+", or a trace's
"-" with a final line's "+", is a conjunction a bag of short n-grams does not hold.
The hash is crc32 of the n-gram, so a feature vector never depends on the process or the seed.
"""
from __future__ import annotations

import functools
import math
import re
import zlib
from typing import Sequence

import torch

_OPS = {"+", "-", "*", "/"}
_WORD = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int, tag: str) -> list[str]:
    return [tag + " ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


@functools.lru_cache(maxsize=1 << 17)
def hashed(text: str, buckets: int, ngram: int, raw_ngram: int) -> dict[int, float]:
    """{bucket: signed, L2-normalised weight} of one document (cached: a run featurizes a document for its
    group's sample, its source's scoring and the global arm; callers must not modify the result)."""
    raw = words(text)
    shape = ["<n>" if w.isdigit() else w for w in raw]
    grams = [g for n in range(1, ngram + 1) for g in _ngrams(shape, n, f"s{n}|")]
    if raw_ngram > 0:
        grams += _ngrams(raw, raw_ngram, "r|")
    ops = sorted(set(shape) & _OPS)
    grams += [f"c|{w}|{op}" for w in sorted(set(shape)) for op in ops if w != op]
    vec: dict[int, float] = {}
    for g in grams:
        h = zlib.crc32(g.encode())
        sign = 1.0 if (h >> 31) & 1 else -1.0
        b = h % buckets
        vec[b] = vec.get(b, 0.0) + sign
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {b: v / norm for b, v in vec.items() if v}


class Bags:
    """Many documents' hashed features; `take(rows)` gives them as a sparse (rows x buckets) matrix."""

    def __init__(self, vectors: Sequence[dict[int, float]], buckets: int):
        self.vectors = list(vectors)
        self.buckets = buckets

    def __len__(self) -> int:
        return len(self.vectors)

    def take(self, rows: Sequence[int]) -> torch.Tensor:
        coords: list[list[int]] = [[], []]
        weights: list[float] = []
        for k, r in enumerate(rows):
            vec = self.vectors[r]
            coords[0].extend([k] * len(vec))
            coords[1].extend(vec)
            weights.extend(vec.values())
        return torch.sparse_coo_tensor(torch.tensor(coords, dtype=torch.long).reshape(2, -1),
                                       torch.tensor(weights, dtype=torch.float32), (len(rows), self.buckets),
                                       check_invariants=False).coalesce()

    def dense_mean(self, rows: Sequence[int], buckets: int) -> torch.Tensor:
        """The mean feature vector of `rows` (a source's centroid), dense."""
        out = torch.zeros(buckets)
        for r in rows:
            for b, v in self.vectors[r].items():
                out[b] += v
        return out / max(1, len(rows))


def featurize(texts: Sequence[str], buckets: int, ngram: int, raw_ngram: int) -> Bags:
    return Bags([hashed(t, buckets, ngram, raw_ngram) for t in texts], buckets)
