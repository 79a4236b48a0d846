"""Reading a dataset folder: splits, voice groups and the tokenizer, from metadata or records."""

import json
import logging
import shutil

import grain
import pytest
import tensorflow_datasets as tfds

from w2v2jax.data import corpus, metadata, reader
from w2v2jax.data.tokenizer import CharTokenizer, PhonemeTokenizer

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
