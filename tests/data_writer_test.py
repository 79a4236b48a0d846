"""Writing dataset folders: never replacing other data, surviving interruption, adding facts."""

import json
import os
import shutil

import pytest

from w2v2jax.data import corpus, metadata, reader, synth, writer

TINY = {"task": "digits", "num_train": 12, "num_valid": 4, "num_test": 6, "seed": 3}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite/espeak-ng not installed (`make apt`)")
    return corpus.build_corpus(tmp_path_factory.mktemp("c") / "digits", **TINY)


def test_refuses_to_replace_a_different_dataset_and_survives_interruption(
    tiny, tmp_path, monkeypatch
):
    out = tmp_path / "c"
    shutil.copytree(tiny, out)
    with pytest.raises(writer.DatasetExistsError, match=r"pass --overwrite \(overwrite=True\)"):
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
    assert metadata.read_params(out)["seed"] == 3 and len(reader.load_split(out, "train")) == 12
    corpus.build_corpus(out, **{**TINY, "seed": 4, "num_train": 5}, overwrite=True)
    assert metadata.read_params(out)["seed"] == 4 and len(reader.load_split(out, "train")) == 5
    assert (
        metadata.read(out)["num_samples"]["train"]
        == reader.load_split(out, "train").lengths.tolist()
    )


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# name, what out holds besides (or instead of) a dataset of ours, inputs, words of the refusal
NOT_REPLACED = [
    ("not_a_dataset", {"notes.txt": "keep me"}, [], "holds files but no w2v2jax dataset"),
    ("foreign_metadata", {"metadata.json": '{"x": 1}'}, [], "no metadata.json with build"),
    ("dataset_and_yours", {"DATASET": "", "notes.txt": "mine"}, [], r"files of yours \(notes"),
    ("input_inside", {"DATASET": "", "list.tsv": "a.wav\tgo"}, ["list.tsv"], "an input of"),
    ("input_is_out", {"list.tsv": "a.wav\tgo"}, ["."], "is or holds an input of this build"),
]


@pytest.mark.parametrize(
    "holds, inputs, words", [c[1:] for c in NOT_REPLACED], ids=[c[0] for c in NOT_REPLACED]
)
def test_overwrite_replaces_only_a_dataset_of_ours(tiny, tmp_path, holds, inputs, words):
    out = tmp_path / "out"
    if "DATASET" in holds:
        shutil.copytree(tiny, out)
    out.mkdir(exist_ok=True)
    for name, text in holds.items():
        if name != "DATASET":
            (out / name).write_text(text)
    before = _snapshot(out)
    inputs = [out / name for name in inputs]
    with pytest.raises(writer.DatasetExistsError, match=words) as info:
        writer.write_dataset(out, _never_called, {"kind": "x"}, overwrite=True, inputs=inputs)
    assert str(info.value).startswith(str(out)) and "nothing was changed" in str(info.value)
    assert _snapshot(out) == before and sorted(os.listdir(tmp_path)) == ["out"]


def test_a_file_is_never_replaced(tmp_path):
    (tmp_path / "list.tsv").write_text("keep me")
    with pytest.raises(writer.DatasetExistsError, match=r"list.tsv is a file \(no metadata"):
        writer.write_dataset(tmp_path / "list.tsv", _never_called, {"kind": "x"}, overwrite=True)
    assert (tmp_path / "list.tsv").read_text() == "keep me"


def _never_called(data_dir):
    raise AssertionError("nothing should be built")


def test_reusing_a_dataset_built_before_the_facts_adds_them(tiny, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny, old)
    fresh = metadata.read(tiny)
    (old / "metadata.json").write_text(
        json.dumps({"build": fresh["build"], "num_samples": fresh["num_samples"]})
    )
    records = os.path.getmtime(old / "dataset_info.json")
    assert corpus.build_corpus(old, **TINY) == old  # same settings: reused, facts added
    assert metadata.read(old) == fresh  # exactly what a build records
    assert os.path.getmtime(old / "dataset_info.json") == records  # records untouched
    assert sorted(os.listdir(old)) == sorted(os.listdir(tiny))  # no temporary file left
    assert writer.add_facts(old) is False  # nothing more to add


def test_a_read_only_dataset_without_facts_is_still_reused(tiny, tmp_path, monkeypatch):
    old = tmp_path / "old"
    shutil.copytree(tiny, old)
    meta = {"build": metadata.read_params(tiny)}
    (old / "metadata.json").write_text(json.dumps(meta))

    def refuse(src, dst):
        raise PermissionError(f"read-only: {dst}")

    monkeypatch.setattr(writer.os, "replace", refuse)
    assert writer.add_facts(old) is False
    assert metadata.read(old) == meta and sorted(os.listdir(old)) == sorted(os.listdir(tiny))
