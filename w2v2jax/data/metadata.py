"""What a dataset folder's metadata.json says about it: written at build time, read back here.

    {"build": {...},                             # the settings built with (reuse is by equality)
     "num_samples": {split: [samples of record i]},
     "voice_groups": {split: {group: [record indices]}},
     "symbols": {"text": [...], "phonemes": [...]}}   # the tokenizer units of every split

Records keep their generation order (the schema disables shuffling), so index i in these lists
is record i. Every reader returns None for a fact the metadata lacks: a dataset built before
that fact was recorded; callers then fall back to reading the records.
"""

import json
import os

import numpy as np
import tensorflow_datasets as tfds

from w2v2jax.data import tokenizer

# Label fields whose symbol inventory is recorded, and the tokenizer that splits each.
LABEL_FIELDS = ("text", "phonemes")
FACTS = ("num_samples", "voice_groups", "symbols")


def new(params: dict) -> tfds.core.MetadataDict:
    """The metadata of a dataset about to be built; SplitFacts fill it split by split."""
    return tfds.core.MetadataDict(
        build=params, num_samples={}, voice_groups={}, symbols={k: [] for k in LABEL_FIELDS}
    )


def _str(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class SplitFacts:
    """The facts of one split, noted record by record as it is written (or scanned)."""

    def __init__(self):
        self.num_samples: list[int] = []
        self.voice_groups: dict[str, list[int]] = {}
        self.symbols: dict[str, set[str]] = {k: set() for k in LABEL_FIELDS}

    def add(self, ex: dict) -> None:
        index = len(self.num_samples)
        self.num_samples.append(int(np.shape(ex["audio"])[0]))
        self.voice_groups.setdefault(_str(ex["voice_group"]), []).append(index)
        for key in LABEL_FIELDS:
            self.symbols[key].update(tokenizer.class_for(key).symbols_of([_str(ex[key])]))

    def write_into(self, meta: dict, split: str) -> None:
        """Adds this split to `meta` (symbols are the union over the splits written so far)."""
        meta["num_samples"][split] = self.num_samples
        meta["voice_groups"][split] = self.voice_groups
        for key, found in self.symbols.items():
            meta["symbols"][key] = sorted(found.union(meta["symbols"].get(key, [])))


def path_of(data_dir: str | os.PathLike) -> str:
    return os.path.join(data_dir, "metadata.json")


def read(data_dir: str | os.PathLike) -> dict:
    """The whole metadata.json of a dataset folder ({} if it has none or it is unreadable)."""
    try:
        with open(path_of(data_dir), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def has_facts(meta: dict) -> bool:
    return all(key in meta for key in FACTS)


def read_params(data_dir: str | os.PathLike) -> dict | None:
    """The build settings recorded in a dataset folder, or None if it is not one of ours."""
    return read(data_dir).get("build")


def lengths(data_dir: str | os.PathLike, split: str) -> list[int] | None:
    """Sample counts of a split's records in order, as written at build time."""
    return read(data_dir).get("num_samples", {}).get(split)


def voice_groups(data_dir: str | os.PathLike, split: str) -> dict[str, list[int]] | None:
    """{voice group: record indices} of a split, as written at build time."""
    return read(data_dir).get("voice_groups", {}).get(split)


def symbols(data_dir: str | os.PathLike, label_key: str) -> list[str] | None:
    """The sorted tokenizer units of `label_key` over every split, as written at build time."""
    return read(data_dir).get("symbols", {}).get(label_key)
