"""The trainer's prompt sampler honours algorithm.retire_scope (epoch: retired prompts return; run: never)."""
from types import SimpleNamespace

import pytest

from rlvr.algorithms.sampling import PromptRetirement
from rlvr.data.sampler import PromptSampler


@pytest.mark.parametrize("scope, comes_back", [("epoch", True), ("run", False)])
def test_retired_prompts_and_the_scope(scope, comes_back):
    rows = [SimpleNamespace(id=i) for i in range(4)]
    retirement = PromptRetirement(threshold=1.0, scope=scope)
    sampler = PromptSampler(SimpleNamespace(rows=rows), seed=0, retirement=retirement)
    assert sorted(r.id for r in sampler.take(4)) == [0, 1, 2, 3]  # one full epoch
    retirement.retire([0], [1.0])
    later = [r.id for r in sampler.take(9)]  # the next epochs
    assert (0 in later) is comes_back
    assert set(later) - {0} == {1, 2, 3}
