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
    with pytest.raises(writer.DatasetExistsError, match="overwrite=True"):
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


def test_files_that_are_not_a_dataset_are_never_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(writer.DatasetExistsError, match=r"already holds files; requested"):
        writer.write_dataset(tmp_path / "mine", _never_called, {"kind": "x"})
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


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
