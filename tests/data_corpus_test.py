"""The synthesized TFDS corpus and user folders/manifests: features, splits, safety, determinism."""

import os
import shutil

import grain
import numpy as np
import pytest
import soundfile as sf
import tensorflow_datasets as tfds

from w2v2jax.data import audio, corpus, folders, synth

needs_tts = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("espeak-ng") is None,
    reason="flite/espeak-ng not installed (`make apt`)",
)
TINY = {"task": "digits", "num_train": 12, "num_valid": 4, "num_test": 6, "seed": 3}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite/espeak-ng not installed (`make apt`)")
    return corpus.build_corpus(tmp_path_factory.mktemp("c") / "digits", **TINY)


def _split(path, split):
    src = corpus.load_split(path, split)
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


@needs_tts
def test_features_splits_and_audio(tiny):
    train, src = _split(tiny, "train")
    assert len(train) == 12 and len(corpus.load_split(tiny, "validation")) == 4
    ex = train[0]
    assert ex["audio"].dtype == np.int16 and ex["audio"].ndim == 1
    assert src.lengths.tolist() == [len(e["audio"]) for e in train]
    for e in train:
        assert abs(e["duration"] - len(e["audio"]) / 16000) < 1e-3
        assert 0.05 < np.abs(e["audio"]).max() / 32768 < 0.99  # audible, not clipped
        assert e["phonemes"] and e["voice_group"] in ("flite", "espeak")
        assert set(e["text"].split()) <= set(synth_words())
    test, _ = _split(tiny, "test")
    assert {e["voice_group"] for e in test} == {"flite", "espeak"}
    assert not {e["text"] for e in test} & {e["text"] for e in train}


def synth_words():
    from w2v2jax.data import texts

    return texts.DIGITS + texts.COMMANDS


@needs_tts
def test_tfds_data_source_reads_without_tensorflow_and_feeds_grain(tiny):
    source = tfds.builder_from_directory(str(tiny)).as_data_source(split="validation")
    ds = grain.MapDataset.source(source).map(lambda e: len(e["audio"]))
    assert list(ds) == corpus.load_split(tiny, "validation").lengths.tolist()


@needs_tts
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


@needs_tts
def test_refuses_to_replace_a_different_dataset_and_survives_interruption(
    tiny, tmp_path, monkeypatch
):
    out = tmp_path / "c"
    shutil.copytree(tiny, out)
    with pytest.raises(corpus.DatasetExistsError, match="overwrite=True"):
        corpus.build_corpus(out, **{**TINY, "seed": 4})
    calls = []

    def fail_later(utt):
        calls.append(utt)
        if len(calls) > 5:
            raise KeyboardInterrupt
        return real(utt)

    real = synth.synthesize
    monkeypatch.setattr(synth, "synthesize", fail_later)
    with pytest.raises(KeyboardInterrupt):
        corpus.build_corpus(out, **{**TINY, "seed": 4}, overwrite=True)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["c"]  # no half-built folder left behind
    assert corpus.read_params(out)["seed"] == 3 and len(corpus.load_split(out, "train")) == 12
    corpus.build_corpus(out, **{**TINY, "seed": 4, "num_train": 5}, overwrite=True)
    assert corpus.read_params(out)["seed"] == 4 and len(corpus.load_split(out, "train")) == 5


def _librispeech(root, texts):
    """speaker/chapter/*.flac (22.05 kHz stereo) + *.trans.txt, as LibriSpeech lays them out."""
    rng = np.random.default_rng(0)
    for spk in ("19", "27"):
        chapter = root / spk / "198"
        chapter.mkdir(parents=True)
        lines = []
        for k, text in enumerate(texts):
            n = 22050 // 2 + 1000 * k
            sf.write(chapter / f"{spk}-198-{k:04d}.flac", 0.1 * rng.standard_normal((n, 2)), 22050)
            lines.append(f"{spk}-198-{k:04d} {text.upper()}")
        (chapter / f"{spk}-198.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def test_librispeech_folder_and_manifest_sources(tmp_path):
    root = _librispeech(tmp_path / "libri", ["three one", "go", "nine nine"])
    src = folders.folder_source(root)
    assert len(src) == 6 and src[4]["voice"] == "27" and src[4]["text"] == "GO"
    assert src.lengths.tolist() == [len(src[i]["audio"]) for i in range(6)]
    assert src.lengths[0] == round((22050 // 2) * 16000 / 22050)
    sf.write(tmp_path / "mono8k.wav", np.zeros(4000), 8000)
    (tmp_path / "m.tsv").write_text(
        "path\ttranscript\nlibri/19/198/19-198-0001.flac\tgo\tann\nmono8k.wav\tsilence\n"
    )
    m = folders.manifest_source(tmp_path / "m.tsv")
    assert [m[0]["voice"], m[1]["text"], len(m[1]["audio"])] == ["ann", "silence", 8000]
    (tmp_path / "bad.tsv").write_text("no_tab_here.wav\n")
    with pytest.raises(ValueError, match=r"bad.tsv:1: expected 'path<TAB>transcript'"):
        folders.manifest_entries(tmp_path / "bad.tsv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no \*.trans.txt transcripts found"):
        folders.librispeech_entries(tmp_path / "empty")


def test_build_dataset_from_folder_and_manifest(tmp_path):
    root = _librispeech(tmp_path / "libri", ["three one", "go"])
    (tmp_path / "m.tsv").write_text("libri/27/198/27-198-0000.flac\tthree one\n")
    path = folders.build_dataset(
        tmp_path / "ds", {"train": root, "test": tmp_path / "m.tsv"}, num_workers=1
    )
    train = corpus.load_split(path, "train")
    assert len(train) == 4 and train[0]["voice_group"] == "user"
    assert train.lengths.tolist() == [len(train[i]["audio"]) for i in range(4)]
    flac = root / "19" / "198" / "19-198-0000.flac"
    assert np.array_equal(train[0]["audio"], audio.to_int16(audio.load_audio(flac)))
    assert corpus.load_split(path, "test")[0]["id"] == "libri/27/198/27-198-0000.flac"


def test_bad_user_file_named_then_skipped_on_request(tmp_path):
    root = _librispeech(tmp_path / "libri", ["three one", "go"])
    (root / "19" / "198" / "19-198-0001.flac").write_bytes(b"")
    with pytest.raises(audio.AudioError, match=r"19-198-0001.flac: the file is empty.*skip_bad"):
        folders.build_dataset(tmp_path / "ds", {"train": root}, num_workers=1)
    assert not (tmp_path / "ds").exists()
    path = folders.build_dataset(tmp_path / "ds", {"train": root}, skip_bad_files=True)
    assert [e["id"] for e in (corpus.load_split(path, "train")[i] for i in range(3))] == [
        "19-198-0000",
        "27-198-0000",
        "27-198-0001",
    ]
