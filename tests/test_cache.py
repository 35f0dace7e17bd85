"""rlvr.cache: an entry is built once, under a lock, and only a finished build counts."""
from __future__ import annotations

import pytest

from rlvr import cache


def test_build_once_builds_once_and_a_failed_build_is_redone(tmp_path):
    calls = []

    def build(root):
        calls.append(root)
        (root / "out.txt").write_text("x")

    root = tmp_path / "entry"
    assert not cache.is_built(root)
    assert cache.build_once(root, build) is True and cache.is_built(root)
    assert cache.build_once(root, build) is False and calls == [root]

    def broken(root):
        raise RuntimeError("boom")

    other = tmp_path / "other"
    with pytest.raises(RuntimeError):
        cache.build_once(other, broken)
    assert not cache.is_built(other)  # no DONE marker: the next call builds again
    assert cache.build_once(other, build) is True


def test_keys_are_stable_and_follow_the_content():
    assert cache.key({"a": 1, "b": [1, 2]}) == cache.key({"b": [1, 2], "a": 1})
    assert cache.key({"a": 1}) != cache.key({"a": 2}) and len(cache.key({})) == 16
