"""w2v2jax/stream_cli.py: a file fed in pieces gives offline greedy decoding's text; stdin
gives the file's; the real-time path sleeps the audio's duration and reports latencies
and a real-time factor that a fake clock makes exact; bad input is one clear error."""

import io
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import soundfile as sf

from w2v2jax import stream_cli
from w2v2jax.convert import write_workdir
from w2v2jax.ctc import greedy_decode
from w2v2jax.data.tokenizer import DELIM_ID, CharTokenizer
from w2v2jax.errors import AudioError, InputError
from w2v2jax.models import Wav2Vec2ForCTC, get_config, init_params
from w2v2jax.streaming import Stream

TOK = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz'"))
SR = 16000
PIECE_MS = 20  # shorter than a chunk (4 frames = 80 ms): most pushes leave the text as it was
PIECE = SR * PIECE_MS // 1000


def _workdir(tmp_path_factory, name, **fields):
    cfg = get_config("micro", vocab_size=TOK.vocab_size, **fields)
    params = init_params(cfg, jax.random.PRNGKey(0), num_samples=3000)
    vocab = tmp_path_factory.mktemp(f"{name}-vocab")
    TOK.save(vocab)
    wd = str(tmp_path_factory.mktemp(name) / "wd")
    write_workdir(cfg, params, wd, str(vocab / "vocab.json"))
    return wd, cfg, params


def _offline_lp(cfg, params, audio):
    """The offline pass over the samples as they are (a stream does not z-normalise)."""
    logits, _ = Wav2Vec2ForCTC(cfg).apply(
        {"params": params}, audio[None], np.zeros((1, len(audio)), np.float32)
    )
    return np.asarray(jax.nn.log_softmax(logits, -1)[0])


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    return _workdir(
        tmp_path_factory, "chunked", feat_extract_norm="layer", attention_chunk_frames=4
    )


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    """1.03 s of int16 noise: the file's samples are exactly pcm / 32768 when read back."""
    pcm = (np.random.default_rng(0).standard_normal(16500) * 6000).astype(np.int16)
    path = tmp_path_factory.mktemp("audio") / "noise.wav"
    sf.write(path, pcm, SR, subtype="PCM_16")
    return str(path), pcm


@pytest.fixture(scope="module")
def reference(chunked, wav):
    """The chunked model over the file's samples: offline log-probs [T, V], and a plain
    stream's hypothesis after each piece of PIECE_MS."""
    _, cfg, params = chunked
    audio = wav[1].astype(np.float32) / 32768
    stream = Stream(params, cfg, TOK)
    texts = [stream.push(audio[i : i + PIECE]) for i in range(0, len(audio), PIECE)]
    return _offline_lp(cfg, params, audio), texts


class FakeClock:
    """A wall clock that moves only when slept on, or by a cost inside push()/finish()."""

    def __init__(self, monkeypatch=None, push_cost=0.0, finish_cost=0.0):
        self.now, self.sleeps, self.push_starts = 100.0, [], []
        if monkeypatch is None:
            return
        push, finish = Stream.push, Stream.finish

        def costly_push(stream, audio):
            self.push_starts.append(self.now)
            text = push(stream, audio)
            self.now += push_cost
            return text

        def costly_finish(stream):
            text = finish(stream)
            self.now += finish_cost
            return text

        monkeypatch.setattr(Stream, "push", costly_push)
        monkeypatch.setattr(Stream, "finish", costly_finish)

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


class Trickle(io.BytesIO):
    """A pipe that hands over at most 77 bytes a read: samples split across reads."""

    def read(self, n=-1):
        return super().read(77 if n < 0 else min(n, 77))


def _run(wd, source, clock=None, **kw):
    clock = clock or FakeClock()
    out, err = io.StringIO(), io.StringIO()
    kw = {"chunk_ms": PIECE_MS, **kw}
    figures = stream_cli.run(wd, source, out=out, err=err, clock=clock, sleep=clock.sleep, **kw)
    return figures, out.getvalue().splitlines(), err.getvalue()


def _partial(lines):
    return [line for line in lines if line.startswith("[")]


def test_a_file_in_pieces_gives_offline_greedy_text_and_a_line_per_change(chunked, wav, reference):
    wd, _, _ = chunked
    path, pcm = wav
    lp, texts = reference
    figures, lines, err = _run(wd, path, realtime=False)
    ids = np.asarray(greedy_decode(lp[None], np.zeros((1, len(lp)), np.float32)))[0]
    offline = TOK.decode([int(i) for i in ids if i >= 0])
    assert offline and figures["text"] == offline
    assert figures["exact"] and "not exact" not in err and "checkpoint step 0" in err
    assert figures["pushes"] == len(texts) == -(-len(pcm) // PIECE)
    assert figures["audio_s"] == pytest.approx(len(pcm) / SR)
    # The lines: each change of a plain stream's hypothesis over the same pieces, once.
    expected, previous = [], ""
    for i, text in enumerate(texts):
        if text != previous:
            expected.append(f"[{min((i + 1) * PIECE, len(pcm)) / SR:6.2f} s] {text}")
            previous = text
    assert _partial(lines) == expected
    assert 1 < len(expected) < figures["pushes"]
    assert f"final: {offline}" in lines


def test_stdin_pcm_gives_the_files_text(chunked, wav):
    wd, _, _ = chunked
    path, pcm = wav
    from_file, file_lines, _ = _run(wd, path, realtime=False)
    clock = FakeClock()
    raw = pcm.astype("<i2").tobytes()
    from_stdin, lines, _ = _run(wd, "-", clock=clock, stdin=io.BytesIO(raw))
    assert from_stdin["text"] == from_file["text"]
    assert lines[:-2] == file_lines[:-2]  # the hypotheses, at the same times, and the text
    assert lines[-2].startswith("stdin: 1.03 s of audio in 52 pushes of 20 ms, from stdin")
    assert clock.sleeps == []  # stdin arrives at its own pace
    # A pipe that splits samples across reads: a byte waits for its pair.
    trickled, trickled_lines, _ = _run(wd, "-", stdin=Trickle(raw))
    assert trickled["text"] == from_file["text"]
    assert trickled["audio_s"] == pytest.approx(len(pcm) / SR)
    texts = [line.split("] ", 1)[1] for line in _partial(trickled_lines)]
    assert texts == [line.split("] ", 1)[1] for line in _partial(file_lines)]


def _first_token_samples(lp_TxV):
    """Samples up to the end of the first frame of the best path that spells a symbol."""
    best = lp_TxV.argmax(-1)
    f = next(t for t, i in enumerate(best) if i not in (0, 1, 2, DELIM_ID))
    return f * 320 + 400


@pytest.mark.parametrize("realtime", [True, False])
def test_pace_and_figures_on_a_fake_clock(chunked, wav, reference, monkeypatch, realtime):
    wd, _, _ = chunked
    path, pcm = wav
    lp, texts = reference
    cost, flush, duration = 0.004, 0.05, len(pcm) / SR
    clock = FakeClock(monkeypatch, push_cost=cost, finish_cost=flush)
    start = clock.now
    # warm=False: the fake clock counts every push, a warm-up's too.
    figures, _, _ = _run(wd, path, clock=clock, realtime=realtime, warm=False)
    n = figures["pushes"]
    ends = [min(i + PIECE, len(pcm)) for i in range(0, len(pcm), PIECE)]
    assert n == len(ends) == len(clock.push_starts)
    k = next(i for i, text in enumerate(texts) if text)  # the piece that shows a first text
    token_end = _first_token_samples(lp)
    if realtime:
        # Each piece goes in when its last sample's time has come, not before.
        np.testing.assert_allclose(clock.push_starts, [start + e / SR for e in ends], atol=1e-9)
        assert sum(clock.sleeps) == pytest.approx(duration - (n - 1) * cost, abs=1e-9)
        first = ends[k] / SR + cost - token_end / SR  # spoken -> shown
    else:
        assert clock.sleeps == []
        handed = next(i for i, e in enumerate(ends) if e >= token_end)
        first = (k + 1 - handed) * cost  # handed over -> shown
    assert figures["realtime"] is realtime
    assert figures["first_guess_latency_s"] == pytest.approx(first, abs=1e-9)
    assert figures["final_guess_latency_s"] == pytest.approx(cost + flush, abs=1e-9)
    assert figures["processing_s"] == pytest.approx(n * cost + flush, abs=1e-9)
    assert figures["rtf"] == pytest.approx((n * cost + flush) / duration, abs=1e-9)


def test_empty_stdin_is_an_empty_text(chunked):
    figures, lines, _ = _run(chunked[0], "-", stdin=io.BytesIO(b""))
    assert figures["text"] == "" and figures["pushes"] == 0 and figures["audio_s"] == 0
    assert figures["rtf"] is None and figures["first_guess_latency_s"] is None
    assert lines[0] == "final: " and "n/a" in lines[-1]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x01\x00\x02", "odd trailing byte"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "starts like a WAV file.*path instead of -"),
    ],
)
def test_stdin_that_is_not_raw_pcm_is_a_clear_error(chunked, data, words):
    with pytest.raises(AudioError, match=words):
        _run(chunked[0], "-", stdin=io.BytesIO(data))


class Interrupted(io.BytesIO):
    """A microphone on stdin stopped with Ctrl-C after `n` bytes."""

    def __init__(self, data, n):
        super().__init__(data[:n])

    def read(self, size=-1):
        data = super().read(size)
        if not data:
            raise KeyboardInterrupt
        return data


def test_ctrl_c_on_a_live_source_finishes_what_was_heard(chunked, wav):
    raw = wav[1].astype("<i2").tobytes()
    at_eof, _, _ = _run(chunked[0], "-", stdin=io.BytesIO(raw[:12000]))
    interrupted, lines, err = _run(chunked[0], "-", stdin=Interrupted(raw, 12000))
    assert "interrupted" in err
    assert interrupted["text"] == at_eof["text"] != ""
    assert interrupted["audio_s"] == at_eof["audio_s"] == 6000 / SR
    assert lines[-3] == f"final: {at_eof['text']}"


def test_a_push_the_stream_refuses_names_the_source_and_time(chunked, wav, monkeypatch):
    def refuse(stream, audio):
        raise AudioError("push() got a NaN or Inf at sample 3 of 320")

    monkeypatch.setattr(Stream, "push", refuse)
    with pytest.raises(AudioError, match=r"noise.wav: streaming stopped at 0.00 s: .*NaN"):
        _run(chunked[0], wav[0], realtime=False, warm=False)


def test_bad_files_and_pieces_fail_before_the_model_loads(tmp_path):
    missing = str(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="nope.wav: no such audio file"):
        _run(str(tmp_path / "no-workdir"), missing)
    with pytest.raises(InputError, match="--chunk_ms=0"):
        _run(str(tmp_path / "no-workdir"), missing, chunk_ms=0)


def test_full_attention_model_streams_by_window_and_says_so(tmp_path_factory, wav):
    wd, cfg, params = _workdir(tmp_path_factory, "full")
    figures, lines, err = _run(wd, wav[0], realtime=False, chunk_ms=160)
    assert figures["exact"] is False
    assert "sliding window" in err and "exact=False" in err
    assert "not exact (sliding-window re-computation)" in lines[-2]
    # The window stream is not the offline pass (streaming_test measures that); the
    # command must give what the engine gives over the same pieces.
    stream, pcm = Stream(params, cfg, TOK), wav[1]
    for i in range(0, len(pcm), 2560):
        stream.push(pcm[i : i + 2560])
    assert figures["text"] == stream.finish() != ""


def test_the_command_streams_a_file_and_stdin(chunked, wav, reference):
    """`w2v2jax stream` end to end (a subprocess): a file as fast as possible and the same
    samples as raw PCM on stdin print offline greedy decoding's text; no FILE is a usage
    error."""
    wd, _, _ = chunked
    path, pcm = wav
    lp, _ = reference
    ids = np.asarray(greedy_decode(lp[None], np.zeros((1, len(lp)), np.float32)))[0]
    offline = TOK.decode([int(i) for i in ids if i >= 0])
    cmd = [sys.executable, "-m", "w2v2jax.cli", "stream", f"--workdir={wd}", "--chunk_ms=20"]
    env = {**os.environ, "W2V2JAX_COMPILE_CACHE": "0"}
    for source, data in ((path, None), ("-", pcm.astype("<i2").tobytes())):
        extra = ["--as_fast_as_possible"] if source != "-" else []
        done = subprocess.run(
            [*cmd, *extra, source],
            check=False,
            input=data,
            capture_output=True,
            timeout=300,
            env=env,
        )
        out = done.stdout.decode()
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert f"final: {offline}" in out.splitlines(), out
        assert "real-time factor" in out, out
    bad = subprocess.run(cmd, check=False, capture_output=True, timeout=300, env=env)
    assert bad.returncode == 1 and b"usage: w2v2jax stream" in bad.stderr
