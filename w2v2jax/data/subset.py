"""A seeded subset of a split: the labeled budget of a few-label fine-tuning run.

    train = subset(load_split(path, "train"), 200, seed=0)

Subsets of one seed are nested (the 50 are among the 200, as Libri-light's 10 min are in its
1 h): the order is one permutation of the whole split, cut at n. The same seed gives the same
utterances to every run that asks for them (pretrained or from scratch).
"""

import numpy as np

from w2v2jax.errors import ConfigError


class Subset:
    """source[indices[i]] for i < n, with the split's lengths and voice groups carried."""

    def __init__(self, source, indices):
        self.source, self.indices = source, np.asarray(indices, dtype=np.int64)
        lengths = getattr(source, "lengths", None)
        self.lengths = None if lengths is None else np.asarray(lengths)[self.indices]
        groups = getattr(source, "voice_groups", None)
        if groups is not None:
            where = {int(j): i for i, j in enumerate(self.indices)}
            groups = {g: [where[j] for j in idx if j in where] for g, idx in groups.items()}
            groups = {g: idx for g, idx in groups.items() if idx}
        self.voice_groups = groups

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        return self.source[int(self.indices[index])]

    def __getitems__(self, indices) -> list[dict]:
        picked = [int(self.indices[i]) for i in indices]
        if hasattr(self.source, "__getitems__"):
            return self.source.__getitems__(picked)
        return [self.source[i] for i in picked]

    def __repr__(self) -> str:
        return f"Subset({self.source!r}, n={len(self)})"


def subset(source, n: int, seed: int = 0):
    """The first n of a seeded permutation of source; the source itself when n is 0."""
    if n == 0:
        return source
    if not 0 < n <= len(source):
        raise ConfigError(
            f"train_examples={n}: the train split of {source!r} has {len(source)} "
            "utterances; ask for 1 to that many (0 = all)"
        )
    order = np.random.default_rng(seed).permutation(len(source))
    return Subset(source, np.sort(order[:n]))
