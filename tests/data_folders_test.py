"""User recordings: LibriSpeech folders and TSV manifests, read directly or built as datasets,
and `w2v2jax corpus` from them."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import xla_env

from w2v2jax.data import (
    audio,
    build_dataset,
    folders,
    load_split,
    make_batches,
    metadata,
    reader,
)
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
    trans = root / "19" / "198" / "19-198.trans.txt"
    with pytest.raises(audio.AudioError, match=r"19-198-0001.flac: the file is empty") as info:
        folders.build_dataset(tmp_path / "ds", {"train": root}, num_workers=1)
    assert f"(listed at {trans}:2), or pass --skip_bad_files (skip_bad_files=True)" in str(
        info.value
    )
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


def cli(*args):
    env = xla_env.env(W2V2JAX_DEBUG="")
    return subprocess.run(
        [sys.executable, "-m", "w2v2jax.cli", "corpus", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _hashes(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_corpus_overwrite_never_deletes_the_users_recordings(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    sf.write(mine / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 16000)
    (mine / "b.wav").write_bytes(b"")
    (mine / "list.tsv").write_text("path\ttranscript\na.wav\tgo\nb.wav\tstop\n")
    before = _hashes(mine)
    out = cli(f"--out={mine}", f"--from_manifest={mine / 'list.tsv'}", "--overwrite")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().splitlines()[-1] == (
        f"w2v2jax corpus: error: {mine} is or holds an input of this build ({mine / 'list.tsv'}),"
        f" so it is never replaced; write the dataset to a folder of its own (e.g. --out={mine}"
        "-dataset); nothing was changed"
    )
    out = cli(f"--out={tmp_path / 'ds'}", f"--from_manifest={mine / 'list.tsv'}")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"b.wav: the file is empty (0 bytes); re-export or remove it (listed at {mine}" in (
        out.stderr
    )
    assert "list.tsv:3), or pass --skip_bad_files" in out.stderr
    out = cli(
        f"--out={tmp_path / 'ds'}", f"--from_manifest={mine / 'list.tsv'}", "--skip_bad_files"
    )
    assert out.returncode == 0, out.stderr
    assert len(reader.load_split(tmp_path / "ds", "train")) == 1
    assert _hashes(mine) == before and sorted(os.listdir(tmp_path)) == ["ds", "mine"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--from_manifest=m.tsv", "--from_librispeech=libri"],
            (
                "give one of --from_librispeech, --from_manifest or --from_audio_dir, not "
                "--from_librispeech and --from_manifest; the other splits go in --valid_from "
                "and --test_from"
            ),
        ),
        (
            ["--valid_from=dev.tsv", "--skip_bad_files"],
            "--valid_from, --skip_bad_files cannot be used for a synthesized corpus; remove them",
        ),
        (
            ["--from_manifest=m.tsv", "--num_train=5", "--seed=1"],
            "--num_train, --seed cannot be used for a corpus from your recordings; remove them",
        ),
        (
            ["--from_manifest=m.tsv", "extra.tsv"],
            "corpus takes no arguments, got ['extra.tsv']; give every input as a flag",
        ),
        (["--from_manifest=none.tsv"], "none.tsv: no such folder or manifest file; check the path"),
    ],
    ids=["both_sources", "valid_without_source", "synth_flags_with_source", "extra", "missing"],
)
def test_corpus_command_lines_that_cannot_be_run(tmp_path, args, message):
    out = cli(f"--out={tmp_path / 'ds'}", *args)
    assert out.returncode == 1 and not (tmp_path / "ds").exists()
    assert out.stderr.strip().splitlines()[-1] == f"w2v2jax corpus: error: {message}"


def test_a_folder_of_unlabeled_audio_becomes_a_dataset(tmp_path):
    """`w2v2jax corpus --from_audio_dir`: any format and rate, nested folders, no text."""
    rng = np.random.default_rng(0)
    files = {"a/one.wav": 8000, "a/b/two.flac": 22050, "three.ogg": 16000}
    for name, rate in files.items():
        (tmp_path / "audio" / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / "audio" / name, 0.1 * rng.standard_normal(rate), rate)
    (tmp_path / "audio" / "notes.txt").write_text("not audio")
    out = build_dataset(tmp_path / "ds", {"train": tmp_path / "audio"}, unlabeled=True)
    train = load_split(out, "train")
    assert len(train) == 3
    assert sorted(train[i]["id"] for i in range(3)) == ["a/b/two", "a/one", "three"]
    assert all(train[i]["text"] == "" for i in range(3))
    assert sorted(train.lengths) == [16000, 16000, 16000]  # one second each, at 16 kHz
    batch = next(iter(make_batches(train, None, batch_size=3, bucket_boundaries=[16000], seed=0)))
    assert batch["audio"].shape == (3, 16000) and "labels" not in batch
