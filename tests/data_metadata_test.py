"""metadata.json: the facts noted record by record, and None for what an old dataset lacks."""

import json

import numpy as np

from w2v2jax.data import metadata
from w2v2jax.data.tokenizer import CharTokenizer, PhonemeTokenizer


def _ex(n, text, phonemes, group):
    return {
        "audio": np.zeros(n, np.int16),
        "text": text,
        "phonemes": phonemes,
        "voice_group": group,
    }


def test_split_facts_note_lengths_groups_and_the_union_of_symbols():
    meta = metadata.new({"kind": "test"})
    assert meta == {
        "build": {"kind": "test"},
        "num_samples": {},
        "voice_groups": {},
        "symbols": {"text": [], "phonemes": []},
    }
    train = metadata.SplitFacts()
    for ex in (_ex(500, "Go left", "ɡˈoʊ", "flite"), _ex(700, "three", "θɹˈiː", "espeak")):
        train.add(ex)
    train.add(_ex(600, b"go", "tʃ".encode(), b"flite"))  # raw tfds records hold bytes
    train.write_into(meta, "train")
    test = metadata.SplitFacts()
    test.add(_ex(900, "zebra", "dʒ", "espeak"))
    test.write_into(meta, "test")
    assert meta["num_samples"] == {"train": [500, 700, 600], "test": [900]}
    assert meta["voice_groups"] == {
        "train": {"flite": [0, 2], "espeak": [1]},
        "test": {"espeak": [0]},
    }
    texts, ipa = ["Go left", "three", "go", "zebra"], ["ɡˈoʊ", "θɹˈiː", "tʃ", "dʒ"]
    assert meta["symbols"]["text"] == CharTokenizer.symbols_of(texts)
    assert meta["symbols"]["phonemes"] == PhonemeTokenizer.symbols_of(ipa)
    assert {"oʊ", "iː", "tʃ", "dʒ"} <= set(meta["symbols"]["phonemes"])  # units kept whole
    assert (
        PhonemeTokenizer(meta["symbols"]["phonemes"]).vocab
        == PhonemeTokenizer.from_texts(ipa).vocab
    )
    assert json.loads(json.dumps(meta)) == meta  # what tfds writes as metadata.json


def test_readers_say_none_for_what_the_metadata_lacks(tmp_path):
    assert metadata.read(tmp_path) == {} and metadata.read_params(tmp_path) is None
    (tmp_path / "metadata.json").write_text("{not json")
    assert metadata.read(tmp_path) == {}
    old = {"build": {"kind": "synth"}, "num_samples": {"train": [1, 2]}}
    (tmp_path / "metadata.json").write_text(json.dumps(old))
    assert metadata.read_params(tmp_path) == {"kind": "synth"}
    assert metadata.lengths(tmp_path, "train") == [1, 2]
    assert metadata.lengths(tmp_path, "test") is None
    assert metadata.voice_groups(tmp_path, "train") is None
    assert metadata.symbols(tmp_path, "text") is None
    assert not metadata.has_facts(old)
    new = {**old, "voice_groups": {"train": {"u": [0, 1]}}, "symbols": {"text": ["a"]}}
    (tmp_path / "metadata.json").write_text(json.dumps(new))
    assert metadata.has_facts(new) and metadata.symbols(tmp_path, "text") == ["a"]
    assert metadata.voice_groups(tmp_path, "train") == {"u": [0, 1]}
    assert metadata.symbols(tmp_path, "phonemes") is None
