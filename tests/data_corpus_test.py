"""The synthesized corpus: its plan of texts and voices, features, splits, determinism, facts."""

import os
import shutil

import numpy as np
import pytest

from w2v2jax.data import corpus, metadata, reader, texts, tokenizer

TINY = {"task": "digits", "num_train": 12, "num_valid": 4, "num_test": 6, "seed": 3}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite/espeak-ng not installed (`make apt`)")
    return corpus.build_corpus(tmp_path_factory.mktemp("c") / "digits", **TINY)


def _split(path, split):
    src = reader.load_split(path, split)
    return [src[i] for i in range(len(src))], src


def test_plan_voices_texts_and_flite_share():
    plan = corpus.make_plan(
        corpus.SynthConfig(name="digits", num_train=3000, num_valid=300, num_test=300)
    )
    train_texts = {u.text for u in plan["train"]}
    for split in ("validation", "test"):
        assert not {u.text for u in plan[split]} & train_texts
    train_voices = {u.voice for s in ("train", "validation") for u in plan[s]}
    test_voices = {u.voice for u in plan["test"]}
    assert not train_voices & test_voices
    assert {v.name for v in test_voices if v.group == "flite"} == {"kal16"}
    flite_share = np.mean([u.voice.engine == "flite" for u in plan["train"]])
    assert 0.36 < flite_share < 0.44
    groups = [u.voice.group for u in plan["test"]]
    assert groups.count("flite") == groups.count("espeak") == 150
    words = corpus.make_plan(
        corpus.SynthConfig(name="words", task="words", num_train=50, num_valid=5)
    )
    assert all(3 <= len(u.text.split()) <= 8 for u in words["train"])


def test_features_splits_and_audio(tiny):
    train, src = _split(tiny, "train")
    assert len(train) == 12 and len(reader.load_split(tiny, "validation")) == 4
    ex = train[0]
    assert ex["audio"].dtype == np.int16 and ex["audio"].ndim == 1
    assert src.lengths.tolist() == [len(e["audio"]) for e in train]
    for e in train:
        assert abs(e["duration"] - len(e["audio"]) / 16000) < 1e-3
        assert 0.05 < np.abs(e["audio"]).max() / 32768 < 0.99  # audible, not clipped
        assert e["phonemes"] and e["voice_group"] in ("flite", "espeak")
        assert set(e["text"].split()) <= set(texts.DIGITS + texts.COMMANDS)
    test, _ = _split(tiny, "test")
    assert {e["voice_group"] for e in test} == {"flite", "espeak"}
    assert not {e["text"] for e in test} & {e["text"] for e in train}


def test_metadata_holds_the_facts_of_every_split(tiny):
    meta = metadata.read(tiny)
    assert metadata.has_facts(meta)
    assert meta["build"] == corpus.SynthConfig(name="digits", **TINY).params
    every = {s: _split(tiny, s)[0] for s in ("train", "validation", "test")}
    for split, records in every.items():
        assert meta["num_samples"][split] == [len(e["audio"]) for e in records]
        groups = meta["voice_groups"][split]
        assert sorted(i for idx in groups.values() for i in idx) == list(range(len(records)))
        assert all(records[i]["voice_group"] == g for g, idx in groups.items() for i in idx)
    assert set(meta["voice_groups"]["test"]) == {"flite", "espeak"}
    records = [e for split in every.values() for e in split]
    for key, cls in (("text", tokenizer.CharTokenizer), ("phonemes", tokenizer.PhonemeTokenizer)):
        assert meta["symbols"][key] == cls.symbols_of(e[key] for e in records)
    assert "oʊ" in meta["symbols"]["phonemes"]  # "zero", "go": multi-symbol units kept whole


def test_same_seed_same_corpus_and_reuse(tiny, tmp_path):
    again = corpus.build_corpus(tmp_path / "again", **TINY)
    for split in ("train", "test"):
        a, _ = _split(tiny, split)
        b, _ = _split(again, split)
        assert [x["text"] for x in a] == [x["text"] for x in b]
        assert all(np.array_equal(x["audio"], y["audio"]) for x, y in zip(a, b, strict=True))
    before = os.path.getmtime(again / "dataset_info.json")
    assert corpus.build_corpus(again, **TINY) == again  # same settings: reused, not rebuilt
    assert os.path.getmtime(again / "dataset_info.json") == before
    assert metadata.read(again) == metadata.read(tiny)
