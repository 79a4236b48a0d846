"""A seeded labeled budget: nested, carried lengths and groups, a clear error past the split."""

import numpy as np
import pytest

from w2v2jax.data import subset
from w2v2jax.errors import ConfigError


class Items:
    def __init__(self, n):
        self.lengths = np.arange(n) * 10 + 5
        self.voice_groups = {"a": list(range(0, n, 2)), "b": list(range(1, n, 2))}
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"id": i}


def test_subsets_of_one_seed_are_nested_and_carry_facts():
    src = Items(100)
    small, large = subset(src, 10, seed=3), subset(src, 40, seed=3)
    small_ids = {small[i]["id"] for i in range(len(small))}
    large_ids = {large[i]["id"] for i in range(len(large))}
    assert len(small_ids) == 10 and small_ids < large_ids
    assert [small.lengths[i] for i in range(10)] == [small[i]["id"] * 10 + 5 for i in range(10)]
    for group, idx in small.voice_groups.items():
        parity = 0 if group == "a" else 1
        assert all(small[i]["id"] % 2 == parity for i in idx)
    assert sum(len(v) for v in small.voice_groups.values()) == 10
    assert [x["id"] for x in small.__getitems__([0, 1])] == [small[0]["id"], small[1]["id"]]
    other = subset(src, 10, seed=4)
    assert {other[i]["id"] for i in range(10)} != small_ids


def test_zero_is_the_whole_split_and_too_many_is_one_sentence():
    src = Items(5)
    assert subset(src, 0) is src
    with pytest.raises(ConfigError, match="train_examples=6.*has 5 utterances"):
        subset(src, 6)
