"""Reading a dataset folder: splits, voice groups and the tokenizer, from metadata or records."""

import json
import logging
import os
import shutil

import grain
import pytest
import tensorflow_datasets as tfds

from w2v2jax.data import corpus, metadata, reader
from w2v2jax.data.tokenizer import CharTokenizer, PhonemeTokenizer
from w2v2jax.errors import DataError, DataNotFoundError

TINY = {"task": "digits", "num_train": 12, "num_valid": 4, "num_test": 6, "seed": 3}
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite/espeak-ng not installed (`make apt`)")
    return corpus.build_corpus(tmp_path_factory.mktemp("c") / "digits", **TINY)


@pytest.fixture
def old(tiny, tmp_path):
    """A copy of `tiny` as a build from before the facts were recorded: lengths only."""
    path = tmp_path / "old"
    shutil.copytree(tiny, path)
    meta = metadata.read(path)
    (path / "metadata.json").write_text(
        json.dumps({"build": meta["build"], "num_samples": meta["num_samples"]})
    )
    return path


def _scan(src, key="voice_group"):
    groups = {}
    for i in range(len(src)):
        groups.setdefault(src[i][key], []).append(i)
    return groups


def test_split_source_reads_records_and_lengths(tiny):
    src = reader.load_split(tiny, "train")
    assert isinstance(src, reader.SplitSource) and len(src) == 12
    assert repr(src) == f"SplitSource({str(tiny)!r}, 'train', n=12)"
    records = src.__getitems__([0, 3])
    assert records[1]["id"] == src[3]["id"] == "train-000003"
    assert all(isinstance(r["text"], str) for r in records)  # bytes decoded
    assert src.lengths.tolist() == [len(src[i]["audio"]) for i in range(len(src))]
    assert sorted(reader.split_names(tiny)) == sorted(SPLITS)
    with pytest.raises(ValueError, match=r"has no split 'dev'; it has \["):
        reader.load_split(tiny, "dev")


def test_tfds_data_source_reads_without_tensorflow_and_feeds_grain(tiny):
    source = tfds.builder_from_directory(str(tiny)).as_data_source(split="validation")
    ds = grain.MapDataset.source(source).map(lambda e: len(e["audio"]))
    assert list(ds) == reader.load_split(tiny, "validation").lengths.tolist()


def test_group_indices_from_metadata_equal_the_scan(tiny, monkeypatch):
    for split in SPLITS:
        src = reader.load_split(tiny, split)
        scanned = _scan(src)
        monkeypatch.setattr(reader.SplitSource, "__getitem__", _no_reads)
        assert reader.group_indices(src) == scanned  # no record read
        monkeypatch.undo()
    test = reader.load_split(tiny, "test")
    assert set(reader.group_indices(test)) == {"flite", "espeak"}
    assert reader.group_indices(test, "voice") == _scan(test, "voice")  # other keys: scanned
    listed = [reader.load_split(tiny, "test")[i] for i in range(len(test))]
    assert reader.group_indices(listed) == _scan(test)  # any sequence of records


def _no_reads(self, index):
    raise AssertionError("a record was read")


@pytest.mark.parametrize("key, cls", [("text", CharTokenizer), ("phonemes", PhonemeTokenizer)])
def test_tokenizer_for_equals_from_texts_of_every_split(tiny, key, cls, monkeypatch):
    texts = {split: [r[key] for r in _records(tiny, split)] for split in SPLITS}
    expected = cls.from_texts(t for split in SPLITS for t in texts[split])
    monkeypatch.setattr(reader.SplitSource, "__getitem__", _no_reads)
    tok = reader.tokenizer_for(tiny, key)
    assert type(tok) is cls and tok.vocab == expected.vocab  # same symbols, same ids
    assert set(cls.symbols_of(texts["test"])) <= set(tok.symbols)  # evaluation scorable


def _records(path, split):
    src = reader.load_split(path, split)
    return [src[i] for i in range(len(src))]


def test_a_dataset_built_before_the_facts_reads_them_from_its_records(tiny, old, caplog):
    test = reader.load_split(old, "test")
    assert test.voice_groups is None and test.lengths is not None
    with caplog.at_level(logging.WARNING):
        assert reader.group_indices(test) == reader.group_indices(reader.load_split(tiny, "test"))
    assert "before its voice groups were recorded" in caplog.text
    caplog.clear()
    for key in ("text", "phonemes"):
        with caplog.at_level(logging.WARNING):
            assert reader.tokenizer_for(old, key).vocab == reader.tokenizer_for(tiny, key).vocab
        assert f"before its '{key}' symbols were recorded" in caplog.text
        assert "build it again with the same arguments" in caplog.text


def _damage(path, kind):
    shard = next(path.glob("*-train.array_record-*"))
    if kind == "shard_truncated":
        os.truncate(shard, os.path.getsize(shard) // 2)
    elif kind == "shard_emptied":
        os.truncate(shard, 0)
    elif kind == "shard_deleted":
        shard.unlink()
    elif kind == "info_damaged":
        (path / "dataset_info.json").write_text('{"name": "synth_')
    elif kind == "info_deleted":
        (path / "dataset_info.json").unlink()
    return shard.name


@pytest.mark.parametrize(
    "kind, words",
    [
        ("shard_truncated", "train shard {shard} is damaged"),
        ("shard_emptied", "train shard {shard} is damaged"),
        ("shard_deleted", "train shard {shard} is missing"),
        ("info_damaged", "its dataset description is damaged"),
        ("info_deleted", "holds no dataset"),
    ],
)
def test_a_damaged_dataset_names_its_folder_and_file(tiny, tmp_path, kind, words):
    path = tmp_path / "damaged"
    shutil.copytree(tiny, path)
    shard = _damage(path, kind)
    with pytest.raises(DataError) as info:
        src = reader.load_split(path, "train")
        src.__getitems__([0, 5])
        [src[i] for i in range(len(src))]
    message = str(info.value)
    assert message.startswith(f"{path}") and words.format(shard=shard) in message
    rebuild = "delete the folder and build it again with the same `w2v2jax corpus` arguments"
    assert rebuild in message or "build one with `w2v2jax corpus --out=DIR" in message


@pytest.mark.parametrize(
    "kind, words",
    [
        ("missing", ": no such dataset folder"),
        ("empty", " is empty"),
        ("other_files", " holds no dataset (no dataset_info.json)"),
        ("a_file", " is a file, not a dataset folder"),
    ],
)
def test_a_folder_that_is_not_a_dataset_is_named(tmp_path, kind, words):
    path = tmp_path / "data"
    if kind == "a_file":
        path.write_text("mine")
    elif kind != "missing":
        path.mkdir()
    if kind == "other_files":
        (path / "notes.txt").write_text("mine")
    for read in (reader.load_split, reader.tokenizer_for, reader.split_names):
        args = (path, "train") if read is reader.load_split else (path,)
        with pytest.raises(DataNotFoundError) as info:
            read(*args)
        assert str(info.value) == (
            f"{path}{words}; build one with `w2v2jax corpus --out=DIR ...` and point data_dir "
            "at DIR"
        )
