"""Transcription and conversion from the command line, on a briefly trained micro model."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import soundfile as sf
import transformers
import xla_env
from hf_reference import make_hf_model
from train_helpers import micro_config, run_single

from w2v2jax.data import audio as audiolib
from w2v2jax.data import load_split
from w2v2jax.inference import Transcriber
from w2v2jax.models.config import get_config
from w2v2jax.train import loop


def cli(*args, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "w2v2jax.cli", *args],
        capture_output=True,
        check=False,
        text=True,
        env=xla_env.env(),
    )
    if check and out.returncode:
        raise AssertionError(out.stderr[-3000:])
    return out


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("trained"))
    run_single(micro_config(tiny_corpus, total_steps=20, checkpoint_every=20), wd)
    test = load_split(tiny_corpus, "test")
    files = []
    for i in range(3):
        path = os.path.join(wd, f"utt{i}.wav")
        sf.write(path, np.asarray(test[i]["audio"], np.int16), 16000)
        files.append(path)
    return wd, files


def test_transcribe_prints_file_tab_text(trained):
    wd, files = trained
    out = cli("transcribe", f"--workdir={wd}", *files)
    lines = out.stdout.rstrip("\n").split("\n")
    assert [line.split("\t")[0] for line in lines] == files
    t = Transcriber(wd)
    for line, path in zip(lines, files, strict=True):
        assert line.split("\t")[1] == t.transcribe(path)[0]


def test_transcribe_beam(trained):
    wd, files = trained
    out = cli("transcribe", f"--workdir={wd}", "--beam=4", files[0])
    assert out.stdout.startswith(files[0] + "\t")


def test_bad_audio_is_a_clear_cli_error(trained, tmp_path):
    wd, _ = trained
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out = cli("transcribe", f"--workdir={wd}", str(empty), check=False)
    assert out.returncode == 1
    assert "empty.wav" in out.stderr and "Traceback" not in out.stderr
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(200, np.int16), 16000)
    out = cli("transcribe", f"--workdir={wd}", str(short), check=False)
    assert out.returncode == 1 and "short.wav" in out.stderr and "400" in out.stderr


def test_chunked_pass_stitches_the_frames_of_one_pass(trained, monkeypatch):
    """With a per-frame function of its 400-sample window, chunking must be exact."""
    wd, _ = trained
    t = Transcriber(wd, chunk_s=3.0, context_s=0.5)

    def window_means(audio_S):
        n = (len(audio_S) - 400) // 320 + 1
        return np.stack([[audio_S[320 * i : 320 * i + 400].mean()] for i in range(n)])

    monkeypatch.setattr(t, "_pass", window_means)
    audio = np.random.default_rng(0).standard_normal(16000 * 11 + 123).astype(np.float32)
    # The file is normalised once, as a whole, then chunked.
    normed = audiolib.normalize(audio[None], np.zeros((1, len(audio)), np.float32))[0]
    np.testing.assert_allclose(t.log_probs(audio), window_means(normed), atol=1e-6)


def test_convert_cli_then_init_from_replaces_the_head(tiny_corpus, tmp_path):
    cfg = get_config("micro", vocab_size=40)
    make_hf_model(cfg, tmp_path / "hf")
    cli("convert", f"--from_hf={tmp_path / 'hf'}", f"--out={tmp_path / 'conv'}")
    out = cli("convert", f"--from_hf={tmp_path / 'hf'}", f"--out={tmp_path / 'conv'}", check=False)
    assert out.returncode == 1 and "not empty" in out.stderr
    from w2v2jax.convert import from_hf

    _, hf_params = from_hf(str(tmp_path / "hf"))
    c = micro_config(tiny_corpus, init_from=str(tmp_path / "conv"))
    trainer = loop.Trainer(c, str(tmp_path / "run"), devices=jax.devices()[:1])
    state = trainer.initial_state()
    assert state["params"]["lm_head"]["kernel"].shape[1] == trainer.objective.tok.vocab_size != 40
    same = jax.tree.map(
        lambda a, b: bool(np.allclose(a, b)), state["params"]["wav2vec2"], hf_params["wav2vec2"]
    )
    assert all(jax.tree.leaves(same))


def test_align_prints_token_and_word_spans(trained):
    wd, files = trained
    out = cli("align", f"--workdir={wd}", files[0], "on off yes")
    text = out.stdout.strip().split("\n")
    w = text.index("word\tstart_s\tend_s")
    tokens = [line.split("\t") for line in text[1:w]]
    words = [line.split("\t") for line in text[w + 1 :]]
    assert "".join(t[0] for t in tokens) == "on|off|yes"
    assert [x[0] for x in words] == ["on", "off", "yes"]
    starts = [float(t[1]) for t in tokens]
    ends = [float(t[2]) for t in tokens]
    assert starts == sorted(starts) and all(e > s for s, e in zip(starts, ends, strict=True))
    assert float(words[-1][2]) <= sf.info(files[0]).duration + 0.02


def test_align_transcript_too_long(trained):
    wd, files = trained
    out = cli("align", f"--workdir={wd}", files[0], "one two three " * 40, check=False)
    assert out.returncode == 1 and "too long" in out.stderr


@pytest.mark.parametrize("beam", ["-3", "100000"])
def test_beam_out_of_range_is_one_sentence_before_loading(beam, tmp_path):
    out = cli(
        "transcribe", f"--workdir={tmp_path / 'none'}", f"--beam={beam}", "a.wav", check=False
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        f"w2v2jax transcribe: error: --beam={beam}: the beam width must be between 0 (greedy) "
        "and 1024; wider beams do not change the result and their memory grows as the square "
        "of the width"
    )


def test_reader_that_leaves_early_ends_transcribe_quietly(trained):
    """`w2v2jax transcribe ... | head -1`: the second line meets a closed pipe."""
    wd, files = trained
    command = [sys.executable, "-m", "w2v2jax.cli", "transcribe", f"--workdir={wd}", *files * 6]
    out = subprocess.run(
        ["bash", "-c", '"$@" | head -1; echo "status ${PIPESTATUS[0]}" >&2', "_", *command],
        capture_output=True,
        text=True,
        check=True,
        env=xla_env.env(),
    )
    assert out.stdout.count("\n") == 1 and out.stdout.startswith(files[0] + "\t")
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr
    assert out.stderr.strip().endswith("status 141")  # 128 + SIGPIPE, as `yes | head -1`


def test_a_bad_file_among_good_ones_is_reported_and_the_rest_transcribed(trained, tmp_path):
    wd, files = trained
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    out = cli("transcribe", f"--workdir={wd}", files[0], str(bad), files[1], check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == [files[0], files[1]]
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert len(errors) == 2 and str(bad) in errors[0]
    assert errors[1].endswith(
        "1 of 3 files could not be transcribed (each is named above); the others were"
    )
    out = cli(
        "transcribe", f"--workdir={wd}", "--strict", files[0], str(bad), files[1], check=False
    )
    assert out.returncode == 1 and str(bad) in out.stderr and "Traceback" not in out.stderr
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == [files[0]]


def test_stderr_names_the_checkpoint_step(trained):
    wd, files = trained
    out = cli("transcribe", f"--workdir={wd}", files[0])
    assert f"w2v2jax transcribe: {wd}: checkpoint step 20" in out.stderr


def test_align_equals_forced_align(trained):
    """Transcriber.align runs ctc.align_long; its spans are forced_align's."""
    from w2v2jax.ctc import forced_align

    wd, files = trained
    t = Transcriber(wd)
    lp = np.concatenate([t.log_probs(audiolib.load_audio(f)) for f in files])
    text = "on off yes no one two three four five"
    tokens, words = t.align(lp, text)
    ids = np.asarray([t.tok.encode(text)], np.int32)
    ref = forced_align(lp[None], np.zeros((1, len(lp))), ids, np.zeros(ids.shape))
    starts = [round(s / t.frame_seconds) for _, s, _ in tokens]
    ends = [round(e / t.frame_seconds) for _, _, e in tokens]
    assert starts == list(np.asarray(ref.starts_BxU[0])) and ends == list(
        np.asarray(ref.ends_BxU[0])
    )
    assert [w for w, _, _ in words] == text.split()


def test_align_names_symbols_outside_the_vocabulary(trained):
    wd, files = trained
    out = cli("align", f"--workdir={wd}", files[0], "on 3 off!", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "has symbols this model cannot emit: ['3']" in out.stderr
    assert "vocab.json" in out.stderr and "strict" not in out.stderr


def test_workdirs_transcribe_cannot_use_are_one_sentence(tmp_path):
    from w2v2jax.convert import from_hf, write_workdir
    from w2v2jax.errors import WorkdirError

    cfg = get_config("micro", vocab_size=40)
    make_hf_model(cfg, tmp_path / "hf")
    write_workdir(*from_hf(str(tmp_path / "hf")), str(tmp_path / "novocab"))
    with pytest.raises(WorkdirError, match="no vocab.json"):
        Transcriber(str(tmp_path / "novocab"))
    make_hf_model(cfg, tmp_path / "enc", cls=transformers.Wav2Vec2Model)
    write_workdir(*from_hf(str(tmp_path / "enc")), str(tmp_path / "headless"))
    with pytest.raises(WorkdirError, match="without a CTC head.*init_from="):
        Transcriber(str(tmp_path / "headless"))
