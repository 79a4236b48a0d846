"""Phone alignment with a phoneme model: Transcriber.align, its errors, the CLI, and the
boundary evaluation on joined words (experiments/phone_alignment)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import xla_env
from train_helpers import micro_config, run_single

from w2v2jax.data import ipa, joined, load_split, synth
from w2v2jax.errors import InputError
from w2v2jax.frames import SAMPLE_RATE, frame_count
from w2v2jax.inference import Transcriber

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # experiments/ is a folder of the repository, not of the package
    sys.path.append(ROOT)


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "w2v2jax.cli", *args],
        capture_output=True,
        check=False,
        text=True,
        env=xla_env.env(),
    )


@pytest.fixture(scope="module")
def phone_model(tiny_corpus, tmp_path_factory):
    """A micro model trained a few steps on IPA labels, and one test utterance as a file."""
    wd = str(tmp_path_factory.mktemp("phones"))
    run_single(micro_config(tiny_corpus, label="phonemes"), wd)
    ex = load_split(tiny_corpus, "test")[0]
    path = os.path.join(wd, "utt.wav")
    sf.write(path, np.asarray(ex["audio"], np.int16), SAMPLE_RATE)
    text = ex["text"].decode() if isinstance(ex["text"], bytes) else str(ex["text"])
    return Transcriber(wd), path, text


def test_phones_from_text_equal_phones_from_its_ipa(phone_model):
    t, path, text = phone_model
    lp = t.log_probs(sf.read(path, dtype="float32")[0])
    tokens, words = t.align(lp, text)
    spoken = synth.phonemize(text)
    assert (tokens, words) == t.align(lp, spoken, ipa=True)
    assert [p for p, _, _ in tokens] == ipa.phonemes(spoken, t.tok.inventory)  # no "|" rows
    assert [w for w, _, _ in words] == [
        "".join(units) for units in ipa.phoneme_words(spoken, t.tok.inventory)
    ]
    starts = [s for _, s, _ in tokens]
    assert starts == sorted(starts) and all(e > s for _, s, e in tokens)
    assert words[0][1] == tokens[0][1] and words[-1][2] == tokens[-1][2]
    for rule in ("previous", "split"):  # other rules only widen a phone
        widened, _ = t.align(lp, text, blanks=rule)
        assert all(a[1] <= b[1] and b[2] <= a[2] for a, b in zip(widened, tokens, strict=True))


@pytest.mark.parametrize(
    "text, as_ipa, message",
    [
        ("...", False, "espeak-ng finds no phonemes in '...'"),
        ("ˈˌ", True, "holds no phonemes"),
        ("wʌn ʁ", True, r"cannot emit: \['ʁ'\]; its \d+ phonemes .* are "),
    ],
)
def test_bad_transcripts_are_one_sentence(phone_model, text, as_ipa, message):
    t, _, _ = phone_model
    with pytest.raises(InputError, match=message):
        t.encode(text, ipa=as_ipa)


def test_a_phoneme_espeak_gives_outside_the_inventory_is_named(phone_model):
    t, _, _ = phone_model
    # A digits model has never heard the "ʒ" of "measure".
    with pytest.raises(InputError, match=r"espeak-ng's IPA for 'measure', .*cannot emit: .*ʒ"):
        t.encode("measure")


def test_cli_align_prints_one_line_per_phone(phone_model):
    t, path, text = phone_model
    out = cli("align", f"--workdir={t.workdir}", path, text)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().split("\n")
    w = lines.index("word\tstart_s\tend_s")
    assert lines[0] == "phone\tstart_s\tend_s"
    phones = [line.split("\t") for line in lines[1:w]]
    assert [p[0] for p in phones] == ipa.phonemes(synth.phonemize(text), t.tok.inventory)
    assert len(lines) - w - 1 == len(text.split())
    # --ipa reaches Transcriber.align (whose text and IPA agree: the first test).
    bad = cli("align", f"--workdir={t.workdir}", "--ipa", path, "wʌn ʁ")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "'ʁ'" in bad.stderr
    assert bad.stdout == ""  # nothing printed before the error


def test_cli_transcribe_timestamps_prints_phone_times(phone_model):
    t, path, _ = phone_model
    out = cli("transcribe", f"--workdir={t.workdir}", "--timestamps", path)
    assert out.returncode == 0, out.stderr
    fields = out.stdout.rstrip("\n").split("\t")
    assert fields[0] == path
    if fields[1]:  # a model trained a few steps may still emit nothing
        stamps = fields[2].split(" ")
        assert [s.split("[")[0] for s in stamps] == ipa.phonemes(fields[1], t.tok.inventory)


def oracle(t, utt):
    """Log-probs that emit each word's phones evenly over the frames of its known span, the
    word delimiter mid-gap and blanks elsewhere: a perfect aligner's input."""
    frames = int(frame_count(len(utt.audio), t.cfg))
    path = np.zeros(frames, np.int64)
    hop_s = t.frame_seconds
    edges = [round(s / hop_s) for w in utt.words for s in w.seconds()]
    for n, w in enumerate(utt.words):
        ids = t.encode(w.phonemes, ipa=True)
        first, last = edges[2 * n], edges[2 * n + 1]
        path[first:last] = np.asarray(ids)[np.arange(last - first) * len(ids) // (last - first)]
        if n + 1 < len(utt.words):
            path[(last + edges[2 * n + 2]) // 2] = t.tok.vocab["|"]
    return np.log(np.eye(len(t.tok))[path] * 0.9 + 0.1 / len(t.tok)).astype(np.float32)


def test_boundary_errors_of_a_perfect_aligner_are_within_half_a_frame(phone_model, monkeypatch):
    from experiments.phone_alignment import evaluate

    t, _, _ = phone_model
    kept, _ = evaluate.known_words(t, evaluate.VOCABULARIES["digits"])
    utts = joined.draw_joined(kept, count=3, seed=1)
    by_length = {len(u.audio): u for u in utts}
    monkeypatch.setattr(t, "log_probs", lambda audio_S: oracle(t, by_length[len(audio_S)]))
    rows = evaluate.boundary_rows(t, utts, rules=("exclude",))
    assert len(rows) == 2 * sum(len(u.words) for u in utts)
    assert max(abs(r["error_ms"]) for r in rows) <= 500 * t.frame_seconds + 1e-6
    assert evaluate.summarize(rows)["exclude"]["median_ms"] <= 10


def test_phone_alignment_experiment_writes_its_files(phone_model, tmp_path):
    from experiments.phone_alignment.run import run

    t, _, _ = phone_model
    result = run(t.workdir, str(tmp_path), count=2, vocabulary="digits")
    assert {"exclude", "previous", "split"} == set(result["summary"])
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["summary"] == result["summary"] and saved["checkpoint_step"] == t.step
    rows = (tmp_path / "boundaries.csv").read_text().strip().split("\n")
    boundaries = result["summary"]["exclude"]["boundaries"]
    assert len(rows) == 1 + 3 * boundaries and boundaries % 2 == 0
    assert "| exclude |" in (tmp_path / "table.md").read_text()
    # "previous" keeps every phone's start and only moves ends later.
    s = result["summary"]
    assert s["previous"]["onset_signed_ms"] == s["exclude"]["onset_signed_ms"]
    assert s["previous"]["offset_signed_ms"] >= s["exclude"]["offset_signed_ms"]
