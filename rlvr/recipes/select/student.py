"""The student scorer of a group: hashed word n-grams (features.py) into a one-hidden-layer MLP that predicts
the teacher's level (0-4) on every kept dimension at once, trained with MSE. Cheap enough to score every
document of a source, which the teacher is not. Held-out agreement with the teacher is measured per
dimension and on the aggregate (Spearman), on documents the student never saw.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

from rlvr.recipes.config import SelectStudentConfig
from rlvr.recipes.select.features import Bags


class NgramMLP(nn.Module):
    """sparse features @ W1 + b1 -> ReLU -> Linear: a one-hidden-layer MLP over hashed features."""

    def __init__(self, buckets: int, hidden: int, outputs: int):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(buckets, hidden) * 0.1)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(torch.sparse.mm(x, self.embed) + self.bias))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """The student is small: one intra-op thread is as fast, and on a shared, loaded machine much faster."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def fit(bags: Bags, rows: Sequence[int], targets: torch.Tensor, s: SelectStudentConfig, seed: int) -> NgramMLP:
    """A student trained on `targets` (len(rows) x dims, teacher levels 0-4) for the documents `rows` of `bags`."""
    with one_thread():
        return _fit(bags, rows, targets, s, seed)


def _fit(bags: Bags, rows: Sequence[int], targets: torch.Tensor, s: SelectStudentConfig, seed: int) -> NgramMLP:
    torch.manual_seed(seed)
    model = NgramMLP(s.buckets, s.hidden, targets.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    x = bags.take(rows)
    y = targets.float() / 4.0
    for _ in range(s.epochs):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: NgramMLP, bags: Bags, rows: Sequence[int], chunk: int = 4096) -> torch.Tensor:
    """Predicted levels (0-4 scale, len(rows) x dims)."""
    with one_thread():
        outs = [model(bags.take(rows[k:k + chunk])) * 4.0 for k in range(0, len(rows), chunk)]
    return torch.cat(outs) if outs else torch.zeros(0, model.head.out_features)
