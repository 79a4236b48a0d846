"""Reading a dataset folder: a split as a random-access source, its voice groups, its tokenizer.

    train = load_split("runs/corpus", "train")   # train[i] -> dict of numpy arrays and str
    train.lengths                                # every record's sample count, no audio read
    group_indices(load_split(path, "test"))      # {"flite": [i, ...], "espeak": [...]}
    tok = tokenizer_for(path, "text")            # the units of every split (or "phonemes")
    # or: tfds.builder_from_directory(path).as_data_source("train") (text fields as bytes)

The facts come from the dataset's metadata.json (metadata.py). A dataset built before a fact
was recorded still reads: that fact is computed from its records, with a warning.
"""

import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from w2v2jax.data import metadata, tokenizer
from w2v2jax.errors import DataError, DataNotFoundError

_BUILD_ONE = "build one with `w2v2jax corpus --out=DIR ...` and point data_dir at DIR"
_REBUILD = (
    "delete the folder and build it again with the same `w2v2jax corpus` arguments "
    "(its metadata.json lists the settings it was built with)"
)


def open_builder(path: str | os.PathLike) -> tfds.core.DatasetBuilder:
    """The TFDS builder of a dataset folder; DataError naming the folder when it is none."""
    path = os.fspath(path)
    if os.path.isfile(path):
        raise DataNotFoundError(f"{path} is a file, not a dataset folder; {_BUILD_ONE}")
    if not os.path.isdir(path):
        raise DataNotFoundError(f"{path}: no such dataset folder; {_BUILD_ONE}")
    if not os.path.isfile(os.path.join(path, "dataset_info.json")):
        what = "is empty" if not os.listdir(path) else "holds no dataset (no dataset_info.json)"
        raise DataNotFoundError(f"{path} {what}; {_BUILD_ONE}")
    try:
        return tfds.builder_from_directory(path)
    except Exception as e:  # tfds raises OSError, protobuf's ParseError and others
        raise DataError(f"{path}: its dataset description is damaged ({e}); {_REBUILD}") from e


class SplitSource:
    """Random access to one split of a dataset folder: source[i] -> dict with str text fields.

    `lengths` holds every example's sample count and `voice_groups` {group: indices}, both
    from the metadata, no audio read (None for a dataset built before they were recorded).
    """

    def __init__(self, path: str | os.PathLike, split: str):
        builder = open_builder(path)
        if split not in builder.info.splits:
            raise DataNotFoundError(
                f"{path} has no split {split!r}; it has {list(builder.info.splits)}: build it "
                "with that split (from your recordings: --valid_from=... gives 'validation', "
                "--test_from=... gives 'test')"
            )
        self.path, self.split = Path(path), split
        self._source = builder.as_data_source(split=split)
        info = builder.info.splits[split]
        self._shards = [os.fspath(f) for f in info.filepaths]
        self._shard_ends = np.cumsum(info.shard_lengths)
        meta = metadata.read(path)
        lengths = meta.get("num_samples", {}).get(split)
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        self.voice_groups = meta.get("voice_groups", {}).get(split)

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        try:
            return decode_strings(self._source[index])
        except RuntimeError as e:  # array_record's errors name no file, or only a byte offset
            raise self._damaged(index, e) from e

    def __getitems__(self, indices) -> list[dict]:
        try:
            return [decode_strings(e) for e in self._source.__getitems__(indices)]
        except RuntimeError as e:
            raise self._damaged(indices[0], e) from e

    def _damaged(self, index: int, cause: Exception) -> DataError:
        """The error naming the shard at fault: a missing one, else the one holding index."""
        missing = [f for f in self._shards if not os.path.isfile(f)]
        shard = int(np.searchsorted(self._shard_ends, index, side="right"))
        name = missing[0] if missing else self._shards[min(shard, len(self._shards) - 1)]
        what = "is missing" if missing else "is damaged"
        return DataError(
            f"{self.path}: the {self.split} shard {os.path.basename(name)} {what} ({cause}); "
            f"{_REBUILD}"
        )

    def __repr__(self) -> str:
        return f"SplitSource({str(self.path)!r}, {self.split!r}, n={len(self)})"


def decode_strings(ex: dict) -> dict:
    return {k: v.decode("utf-8") if isinstance(v, bytes) else v for k, v in ex.items()}


def load_split(path: str | os.PathLike, split: str) -> SplitSource:
    return SplitSource(path, split)


def split_names(path: str | os.PathLike) -> list[str]:
    """The splits a dataset folder holds, e.g. ["train", "validation", "test"]."""
    return list(open_builder(path).info.splits)


def _warn_missing(path, fact: str) -> None:
    logging.warning(
        "%s was built before its %s were recorded in metadata.json, so every record is read "
        "to find them; build it again with the same arguments (w2v2jax corpus ..., "
        "build_corpus or build_dataset) to record them once",
        path,
        fact,
    )


def group_indices(source, key: str = "voice_group") -> dict[str, list[int]]:
    """Indices of a split by a string feature, e.g. the two test voice groups.

    A SplitSource's voice groups come from the metadata; any other key or source is read
    record by record.
    """
    recorded = getattr(source, "voice_groups", None) if key == "voice_group" else None
    if recorded is not None:
        return {group: list(indices) for group, indices in recorded.items()}
    if key == "voice_group" and isinstance(source, SplitSource):
        _warn_missing(source.path, "voice groups")
    groups = {}
    for i in range(len(source)):
        value = source[i][key]
        groups.setdefault(value.decode() if isinstance(value, bytes) else value, []).append(i)
    return groups


def tokenizer_for(data_dir: str | os.PathLike, label_key: str = "text") -> tokenizer.Tokenizer:
    """The tokenizer of `label_key` over every split of a dataset (a symbol seen only in
    evaluation must still be scorable): a CharTokenizer for "text", a PhonemeTokenizer for
    "phonemes", the same ids as `from_texts` of all their texts, built from the metadata.
    """
    cls = tokenizer.class_for(label_key)
    symbols = metadata.symbols(data_dir, label_key)
    if symbols is not None:
        return cls(symbols)
    if label_key in metadata.LABEL_FIELDS:
        _warn_missing(data_dir, f"{label_key!r} symbols")
    texts = []
    for split in split_names(data_dir):
        src = load_split(data_dir, split)
        texts += [src[i][label_key] for i in range(len(src))]
    return cls.from_texts(texts)
