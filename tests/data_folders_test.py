"""User recordings: LibriSpeech folders and TSV manifests, read directly or built as datasets."""

import numpy as np
import pytest
import soundfile as sf

from w2v2jax.data import audio, folders, metadata, reader
from w2v2jax.data.tokenizer import CharTokenizer


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
    train = reader.load_split(path, "train")
    assert len(train) == 4 and train[0]["voice_group"] == "user"
    assert train.lengths.tolist() == [len(train[i]["audio"]) for i in range(4)]
    flac = root / "19" / "198" / "19-198-0000.flac"
    assert np.array_equal(train[0]["audio"], audio.to_int16(audio.load_audio(flac)))
    assert reader.load_split(path, "test")[0]["id"] == "libri/27/198/27-198-0000.flac"


def test_bad_user_file_named_then_skipped_on_request(tmp_path):
    root = _librispeech(tmp_path / "libri", ["three one", "go"])
    (root / "19" / "198" / "19-198-0001.flac").write_bytes(b"")
    with pytest.raises(audio.AudioError, match=r"19-198-0001.flac: the file is empty.*skip_bad"):
        folders.build_dataset(tmp_path / "ds", {"train": root}, num_workers=1)
    assert not (tmp_path / "ds").exists()
    path = folders.build_dataset(tmp_path / "ds", {"train": root}, skip_bad_files=True)
    assert [e["id"] for e in (reader.load_split(path, "train")[i] for i in range(3))] == [
        "19-198-0000",
        "27-198-0000",
        "27-198-0001",
    ]


def test_user_dataset_records_its_facts(tmp_path):
    root = _librispeech(tmp_path / "libri", ["three one", "go"])
    (tmp_path / "m.tsv").write_text("libri/27/198/27-198-0000.flac\tDon't QUIT\tann\n")
    path = folders.build_dataset(
        tmp_path / "ds", {"train": root, "test": tmp_path / "m.tsv"}, num_workers=1
    )
    meta = metadata.read(path)
    assert meta["build"]["kind"] == "user" and metadata.has_facts(meta)
    assert meta["voice_groups"] == {"train": {"user": [0, 1, 2, 3]}, "test": {"user": [0]}}
    for split in ("train", "test"):
        assert meta["num_samples"][split] == reader.load_split(path, split).lengths.tolist()
    texts = ["THREE ONE", "GO", "Don't QUIT"]
    assert meta["symbols"] == {"text": CharTokenizer.symbols_of(texts), "phonemes": []}
    tok = reader.tokenizer_for(path, "text")
    assert tok.vocab == CharTokenizer.from_texts(texts).vocab and "'" in tok.vocab
    test = reader.load_split(path, "test")
    assert reader.group_indices(test) == {"user": [0]}
