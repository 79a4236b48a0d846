"""`w2v2jax corpus --noisy_test`: a reverberated, noised copy of each test utterance as the
voice group "noisy", beside the clean groups; a different dataset from the one without
(issue 16)."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import xla_env

from w2v2jax.data import Augmenter, corpus, metadata, reader
from w2v2jax.errors import DatasetExistsError

TINY = {"task": "digits", "num_train": 12, "num_valid": 4, "num_test": 6, "seed": 3}


def w2v2jax(*args):
    return subprocess.run(
        [sys.executable, "-m", "w2v2jax.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=xla_env.env(),
    )


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite/espeak-ng not installed (`make apt`)")
    out = tmp_path_factory.mktemp("c") / "digits-noisy"
    flags = [f"--{k}={v}" for k, v in TINY.items()]
    done = w2v2jax("corpus", f"--out={out}", *flags, "--noisy_test")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    return out


def test_noisy_copies_form_their_own_group_beside_the_clean_ones(noisy):
    test = reader.load_split(noisy, "test")
    n = TINY["num_test"]
    assert len(test) == 2 * n and len(reader.load_split(noisy, "train")) == TINY["num_train"]
    groups = reader.group_indices(test)
    assert set(groups) == {"espeak", "flite", "noisy"}
    assert groups["noisy"] == list(range(n, 2 * n))
    assert sorted(groups["espeak"] + groups["flite"]) == list(range(n))
    for i in range(n):
        clean, copy = test[i], test[n + i]
        for key in ("text", "phonemes", "voice"):
            assert copy[key] == clean[key]
        assert copy["id"] == f"test-noisy-{i:06d}" and copy["voice_group"] == "noisy"
        assert len(copy["audio"]) == len(clean["audio"])
        a, b = clean["audio"] / 32768.0, copy["audio"] / 32768.0
        assert 0.05 < np.abs(b).max() <= 0.99  # audible and scaled, never clipped
        residual_db = 10 * np.log10(np.mean(a**2) / np.mean((b / np.std(b) * np.std(a) - a) ** 2))
        assert residual_db < 5  # reverberation and 5-20 dB of noise: far from the clean audio


def test_noisy_copies_are_seeded(noisy):
    test = reader.load_split(noisy, "test")
    n = TINY["num_test"]
    augmenter = Augmenter(corpus.NOISY_TEST, seed=TINY["seed"])
    for i in (0, n - 1):
        again = corpus.noisy_copy(test[i], i, augmenter, TINY["seed"])
        np.testing.assert_array_equal(again["audio"], test[n + i]["audio"])


def test_the_option_is_part_of_the_dataset_identity(noisy, tmp_path):
    assert metadata.read_params(noisy)["noisy_test"] is True
    with pytest.raises(DatasetExistsError):  # the same folder asked without: not reused
        corpus.build_corpus(noisy, **TINY)
    # Without the option the params are as before it existed: old corpora are reused.
    assert "noisy_test" not in corpus.SynthConfig(name="digits").params


def test_the_flag_is_refused_for_a_corpus_of_recordings(tmp_path):
    manifest = tmp_path / "train.tsv"
    manifest.write_text("a.wav\tone\n")
    done = w2v2jax(
        "corpus", f"--out={tmp_path / 'out'}", f"--from_manifest={manifest}", "--noisy_test"
    )
    assert done.returncode == 1
    assert "--noisy_test cannot be used for a corpus from your recordings" in done.stderr
