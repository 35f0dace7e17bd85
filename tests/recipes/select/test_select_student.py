"""The student reproduces its teacher on held-out documents in every group."""
from __future__ import annotations

from rlvr.recipes.select.stats import spearman


def test_student_agrees_with_teacher_on_held_out_documents_in_every_group(selection):
    for group in selection["arms"]["mira"].groups:
        m = group.metrics
        assert m["held_out"] >= 50, group.group
        assert m["aggregate_spearman"] >= 0.8, (group.group, m)
        assert set(m["spearman"]) == set(group.rubric.kept)


def test_the_teacher_labels_at_most_its_share_of_each_source(pool, selection):
    sources, _ = pool
    share = selection["cfg"].teacher_share
    for group in selection["arms"]["mira"].groups:
        for s in sources:
            if s.name in group.labelled:
                assert len(group.labelled[s.name]) <= share * len(s.texts) + 1


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # ties share average ranks: a -> [1, 2.5, 2.5, 4]; deviations (-1.5, 0, 0, 1.5) and (-1.5, -0.5, 0.5, 1.5)
    # give rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9)
    assert abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9 ** 0.5) < 1e-12
