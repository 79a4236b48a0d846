"""The `w2v2jax stream` command: feed a file (or raw PCM from stdin) to a Stream piece by
piece, print the hypothesis each time it changes, then the final text and latency figures.

    from w2v2jax.stream_cli import run
    figures = run("runs/demo-s0", "a.wav")                      # real-time pace, 160 ms pieces
    figures = run("runs/demo-s0", "a.wav", realtime=False)      # --as_fast_as_possible
    figures["first_guess_latency_s"], figures["final_guess_latency_s"], figures["rtf"]

    # live: raw 16 kHz mono signed 16-bit little-endian PCM on stdin
    arecord -f S16_LE -r 16000 -c 1 -t raw | w2v2jax stream --workdir=runs/demo-s0 -

Printed, one line per change of the hypothesis, the audio pushed so far and the text:

    [  1.28 s] five one

The figures follow the streaming ASR literature's user-perceived latencies (Soniox's
first-token and finalization latency, Myrtle's CAIMAN-ASR "user-perceived latency":
from the moment a word has been spoken to the moment its text is on the screen), with
"heard(s)", the wall time at which audio sample s existed:
  - a file at real-time pace: start + s / 16 kHz (the pieces are handed over when their
    last sample's time has come, so the wait for a piece to fill counts, as a microphone's
    buffer does);
  - stdin and --as_fast_as_possible: the wall time its piece was handed to the stream
    (stdin cannot say when a sample was recorded: a live source's latency is then
    understated by up to one piece).
first-guess latency: the first token of the text (the first spelled symbol of the best
path) is emitted by frame f, whose last sample is f * hop + receptive_field; the latency
is the wall time its text first appears in a hypothesis (the push that shows it returns)
minus heard(that sample). It holds the model's own wait (a chunked model's chunk, a window
stream's step and right context) and the compute.
final-guess latency: the wall time finish() returns minus heard(the last sample).
real-time factor: the wall time spent inside push() and finish(), over the audio's
duration (below 1 keeps up with real time).
None of them counts compilation: a throwaway stream over silence compiles the steps first
(a chunked model without a left limit still compiles once per doubling of its caches).
Frames are never revised once emitted (streaming.py), so a hypothesis only grows: its
first non-empty value is the first token's first appearance.
"""

import bisect
import sys
import time

import numpy as np

from w2v2jax.data import audio as audiolib
from w2v2jax.errors import AudioError, InputError
from w2v2jax.frames import SAMPLE_RATE, hop_length, receptive_field
from w2v2jax.streaming import GreedyText

DEFAULT_CHUNK_MS = 160
PCM_TO_FFMPEG = "ffmpeg -i IN -f s16le -ac 1 -ar 16000 -"
# A container piped to stdin would be streamed as noise; its first bytes say what it is.
CONTAINER_MAGIC = {b"RIFF": "a WAV file", b"fLaC": "a FLAC file", b"OggS": "an Ogg file"}


def piece_samples(chunk_ms) -> int:
    """Samples per piece, or InputError for a chunk_ms that holds no sample."""
    n = round(float(chunk_ms) * SAMPLE_RATE / 1000)
    if n < 1:
        raise InputError(
            f"--chunk_ms={chunk_ms}: a piece must hold at least one sample (1/16 ms); "
            f"give e.g. --chunk_ms={DEFAULT_CHUNK_MS}"
        )
    return n


def file_pieces(audio_S, size: int):
    for i in range(0, len(audio_S), size):
        yield audio_S[i : i + size]


def stdin_pieces(stdin, size: int):
    """int16 pieces of `size` samples (the last one shorter) as they arrive."""
    carry, first = b"", True
    while True:
        data = stdin.read(2 * size)
        if not data:
            break
        if first and data[:4] in CONTAINER_MAGIC:
            raise AudioError(
                f"stdin starts like {CONTAINER_MAGIC[data[:4]]}, but stdin takes raw 16 kHz "
                f"mono signed 16-bit little-endian PCM: give the file's path instead of -, "
                f"or convert it: {PCM_TO_FFMPEG}"
            )
        first = False
        data = carry + data
        # A short read may split a sample; its first byte waits for the next read.
        whole = len(data) - len(data) % 2
        carry = data[whole:]
        if whole:
            yield np.frombuffer(data[:whole], dtype="<i2")
    if carry:
        raise AudioError(
            "stdin ended with an odd trailing byte: raw 16-bit PCM comes in 2-byte samples, "
            f"so the input is not 16 kHz mono signed 16-bit little-endian PCM; {PCM_TO_FFMPEG}"
        )


class Timeline:
    """heard(s) and the wall time spent inside the stream (see the module docstring)."""

    def __init__(self, clock, paced: bool):
        self.clock, self.paced = clock, paced
        self.start = clock()
        self.ends: list[int] = []  # samples pushed after each piece
        self.handed: list[float] = []  # wall time each piece was handed over
        self.processing = 0.0

    def hand(self, end: int) -> None:
        self.ends.append(end)
        self.handed.append(self.clock())

    def heard(self, samples: int) -> float:
        """When the `samples`-th sample existed."""
        if self.paced:
            return self.start + samples / SAMPLE_RATE
        return self.handed[bisect.bisect_left(self.ends, samples)]

    def timed(self, fn, *args):
        """fn(*args) and the wall time it returned at; its time counts as processing."""
        t0 = self.clock()
        value = fn(*args)
        t1 = self.clock()
        self.processing += t1 - t0
        return value, t1


def first_token_end(stream, transcriber) -> int:
    """The sample count at which the frame that spells the text's first symbol ends."""
    lp_TxV, greedy, cfg = stream.log_probs(), GreedyText(transcriber.tok), transcriber.cfg
    for f in range(len(lp_TxV)):
        greedy.add(lp_TxV[f : f + 1])
        if greedy.text:
            return f * hop_length(cfg) + receptive_field(cfg)
    raise AssertionError("first_token_end called on a stream with no text")


def warm_up(transcriber, gain: float) -> None:
    """Compiles a stream's steps on silence (prime and a chunk, or one window pass), so the
    figures time the streaming and not the compiler."""
    cfg = transcriber.cfg
    stream = transcriber.stream(gain=gain)
    stream.push(np.zeros(receptive_field(cfg) + hop_length(cfg) * cfg.attention_chunk_frames))
    stream.finish()


def run(
    workdir,
    source,
    chunk_ms=DEFAULT_CHUNK_MS,
    realtime=True,
    out=None,
    err=None,
    clock=time.monotonic,
    sleep=time.sleep,
    stdin=None,
    gain: float = 1.0,
    warm: bool = True,
) -> dict:
    """Streams `source` (an audio file, or "-" for raw PCM on stdin) through the workdir's
    model; prints the hypotheses to `out`, notes to `err`; returns the figures."""
    # Resolved at call time, not import time: a caller (pytest's capsys) may swap them.
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    size = piece_samples(chunk_ms)
    from_stdin = source == "-"
    # A file is read before the model loads: a bad path fails in a second, not after it.
    audio = None if from_stdin else audiolib.load_audio(source)
    from w2v2jax.inference import Transcriber

    transcriber = Transcriber(workdir)
    print(f"w2v2jax stream: {transcriber.workdir}: checkpoint step {transcriber.step}", file=err)
    if warm:
        warm_up(transcriber, gain)
    stream = transcriber.stream(gain=gain)
    if not stream.exact:
        print(
            "w2v2jax stream: a full-attention model has no exact streaming pass: its stream "
            "re-runs the model over a sliding window, so its text can differ from "
            "`w2v2jax transcribe`'s (exact=False)",
            file=err,
        )
    elif transcriber.cfg.do_normalize:
        print(
            "w2v2jax stream: this model was trained on z-normalised utterances, which a "
            "stream cannot know before their end, so it hears the raw samples and its text "
            "can differ from `w2v2jax transcribe`'s; a chunked model trained with "
            "--config.model.do_normalize=False streams to exactly its offline text",
            file=err,
        )
    if from_stdin:
        stdin = sys.stdin.buffer if stdin is None else stdin
        name, pieces = "stdin", stdin_pieces(stdin, size)
    else:
        name, pieces = source, file_pieces(audio, size)
    paced = realtime and not from_stdin  # stdin arrives at its own pace
    line = Timeline(clock, paced)
    samples, shown, first_latency = 0, "", None
    try:
        for piece in pieces:
            begin, samples = samples, samples + len(piece)
            if paced:
                wait = line.start + samples / SAMPLE_RATE - clock()
                if wait > 0:
                    sleep(wait)
            line.hand(samples)
            try:
                text, at = line.timed(stream.push, piece)
            except InputError as e:
                kind = AudioError if isinstance(e, AudioError) else InputError
                raise kind(f"{name}: streaming stopped at {begin / SAMPLE_RATE:.2f} s: {e}") from e
            if text != shown:
                print(f"[{samples / SAMPLE_RATE:6.2f} s] {text}", file=out, flush=True)
                if not shown:
                    first_latency = at - line.heard(first_token_end(stream, transcriber))
                shown = text
    except KeyboardInterrupt:
        # A live source (a microphone on stdin) ends with Ctrl-C: finish what was heard.
        print("w2v2jax stream: interrupted: finishing the stream", file=err, flush=True)
    text, at = line.timed(stream.finish)
    if text and not shown:
        first_latency = at - line.heard(first_token_end(stream, transcriber))
    audio_s = samples / SAMPLE_RATE
    figures = {
        "text": text,
        "audio_s": audio_s,
        "pushes": len(line.ends),
        "chunk_ms": size * 1000 / SAMPLE_RATE,
        "exact": bool(stream.exact),
        "realtime": paced,
        "first_guess_latency_s": first_latency,
        "final_guess_latency_s": at - line.heard(samples) if samples else None,
        "processing_s": line.processing,
        "rtf": line.processing / audio_s if samples else None,
    }
    print_figures(figures, name, out)
    return figures


def print_figures(f: dict, name: str, out) -> None:
    def s(value, unit=" s"):
        return "n/a" if value is None else f"{value:.3f}{unit}"

    pace = "real-time pace" if f["realtime"] else "as fast as possible"
    if name == "stdin":
        pace = "from stdin"
    kind = "exact (chunked model)" if f["exact"] else "not exact (sliding-window re-computation)"
    print(f"final: {f['text']}", file=out)
    print(
        f"{name}: {f['audio_s']:.2f} s of audio in {f['pushes']} pushes of "
        f"{f['chunk_ms']:g} ms, {pace}; {kind}",
        file=out,
    )
    print(
        f"first-guess latency {s(f['first_guess_latency_s'])}, final-guess latency "
        f"{s(f['final_guess_latency_s'])}, real-time factor {s(f['rtf'], '')} "
        f"({f['processing_s']:.3f} s of processing)",
        file=out,
        flush=True,
    )
