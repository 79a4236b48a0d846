"""Streaming transcription: push audio as it arrives, read the hypothesis as it grows.

    stream = Stream.of(Transcriber(workdir))   # or Stream(params, cfg, tokenizer)
    for piece in microphone():                 # any number of samples, int16 or float
        print(stream.push(piece))              # the greedy (best path) text so far
    text = stream.finish()                     # flushes the last, partial chunk
    lp_TxV = stream.log_probs()                # the frames emitted so far

A chunked model (attention_chunk_frames = c > 0) streams exactly: once the audio of a
chunk is in (c hops, plus the CNN's 80-sample look-ahead), one jitted step runs the CNN on
the chunk's new samples only, with each conv layer's edge samples cached, and the
transformer on its c frames with each layer's cached keys and values of the left context
(models/incremental.py). Its log-probs equal the offline pass over the same audio whatever
the push sizes (tests/streaming_test.py, 1e-4). Every step has the same shapes, so nothing
recompiles as the stream goes on; with attention_left_chunks = L >= 0 the caches hold L
chunks, so a pushed second costs the same at minute 1 and at minute 60
(benchmarks/stream_cost.py). With L = -1 they grow with the stream (doubling: a compile per
doubling) and so does the cost of a chunk.

The end of a stream: the last chunk is padded to c frames, its padded frames masked as the
offline pass masks frames past the audio's end; samples past the last whole frame are
dropped, as the offline CNN drops them.

A full-attention model (c = 0; the base model's group-norm CNN among them) has no exact
incremental pass. Its stream re-runs the model over the last `window_s` seconds each time
`step_s` more seconds are in, and keeps the frames at least `context_s` from the window's
right edge. That is NOT the offline pass (`exact` is False): frames see at most window_s
of context and the group-norm CNN normalises over the window; benchmarks/stream_cost.py
measures the gap.

Input: 16 kHz mono; int16 is scaled to [-1, 1). A stream cannot know a file's mean and
variance before its end, so unlike Transcriber.log_probs it does not z-normalise: its exact
reference is the model over the samples as pushed, times `gain`. A chunked model trained
on raw samples (cfg.do_normalize False) is fed them offline too, so its stream equals
Transcriber's pass over the same file (tests/streaming_raw_test.py).
Legend: S samples, T frames, C frames of a chunk, D model width, V vocab.
"""

import functools
import math

import jax
import numpy as np

from w2v2jax.data.tokenizer import BLANK_ID, DELIM_ID
from w2v2jax.errors import AudioError, InputError
from w2v2jax.frames import (
    SAMPLE_RATE,
    frame_count,
    frame_seconds,
    hop_length,
    receptive_field,
)
from w2v2jax.models import incremental
from w2v2jax.models.layout import unstack_layers
from w2v2jax.models.positional import sinusoid_table
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC

NOT_SPELLED = (0, 1, 2)  # blank/pad, <s>, </s>: Tokenizer.decode drops them


def check_samples(audio) -> np.ndarray:
    """The float32 mono samples of one push, or AudioError (the stream is left as it was)."""
    a = np.asarray(audio)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim == 2:
        raise AudioError(
            f"push() got audio of shape {a.shape}, {min(a.shape)} channels: mix it down to "
            "mono (e.g. audio.mean(axis=1)) and push that"
        )
    if a.ndim != 1:
        raise AudioError(f"push() got an array of shape {a.shape}: push 1-D mono samples")
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32768.0
    if a.dtype.kind != "f":
        raise AudioError(
            f"push() got {a.dtype} samples: push int16 PCM or floats in [-1, 1] (scale other "
            "integer PCM first, e.g. int32 / 2**31)"
        )
    a = a.astype(np.float32)
    bad = ~np.isfinite(a)
    if bad.any():
        raise AudioError(
            f"push() got a NaN or Inf at sample {int(np.argmax(bad))} of {len(a)}: none of "
            "this push was used; push it again without the non-finite samples"
        )
    return a


def learned_table_ends(cfg) -> bool:
    """Whether the model has a learned positional table that refuses positions past it."""
    return cfg.posemb == "learned" and cfg.learned_overflow == "error"


class GreedyText:
    """The best path's text, grown by each new frame: tokenizer.decode of all ids so far
    (repeats merged, blanks dropped, "|" a space), in time per new frame only."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.previous = BLANK_ID
        self.text = ""
        self.space = False

    def add(self, lp_TxV: np.ndarray) -> None:
        for i in np.argmax(lp_TxV, axis=-1).tolist():
            if i != self.previous and i != BLANK_ID:
                self._append(i)
            self.previous = i

    def _append(self, i: int) -> None:
        if i in NOT_SPELLED:
            return
        if i == DELIM_ID:
            self.space = bool(self.text)
            return
        if self.space:
            self.text += " "
            self.space = False
        self.text += self.tok.symbols[i]


@functools.partial(jax.jit, static_argnums=0)
def chunk_log_probs(cfg, params, state, samples_1xS, paddings_1xC, rows_CxD):
    """One chunk of a chunked model: (log-probs [C, V], new caches)."""
    logits, state = incremental.step(cfg, params, state, samples_1xS, paddings_1xC, rows_CxD)
    return jax.nn.log_softmax(logits, -1)[0], state


prime_caches = jax.jit(incremental.prime, static_argnums=0)


@functools.partial(jax.jit, static_argnums=0)
def window_log_probs(cfg, params, audio_1xS, paddings_1xS):
    """The offline pass over one window: log-probs [T, V]."""
    logits, _ = Wav2Vec2ForCTC(cfg).apply({"params": params}, audio_1xS, paddings_1xS)
    return jax.nn.log_softmax(logits, -1)[0]


class ChunkedPass:
    """The exact pass: samples in, each completed chunk's log-probs out."""

    def __init__(self, cfg, params):
        self.cfg, self.params = cfg, params
        self.c, self.hop = cfg.attention_chunk_frames, hop_length(cfg)
        self.head = receptive_field(cfg) - self.hop  # samples before the first frame's hop
        left = cfg.attention_left_chunks
        self.state = incremental.init_state(cfg, self.c * left if left >= 0 else 0)
        self.pending = np.zeros(0, np.float32)  # samples not yet in a step
        self.primed = False
        self.samples = 0  # samples pushed
        self.start = 0  # frames stepped (the next chunk's first position)

    def check(self, n: int) -> None:
        """Raises, before anything changes, if n more samples cannot be taken."""
        cfg = self.cfg
        frames = frame_count(self.samples + n, cfg)
        if learned_table_ends(cfg) and frames > cfg.max_positions:
            raise InputError(
                f"the stream would reach {frames} frames but the learned positional table "
                f"has {cfg.max_positions} rows: finish() it and start a new stream, or use "
                "a model with learned_overflow='clip'"
            )

    def feed(self, x_S: np.ndarray) -> list[np.ndarray]:
        self.samples += len(x_S)
        self.pending = np.concatenate([self.pending, x_S])
        out = []
        if not self.primed and len(self.pending) >= self.head:
            head, self.pending = self.pending[: self.head], self.pending[self.head :]
            self.state = prime_caches(self.cfg, self.params, self.state, head[None])
            self.primed = True
        size = self.hop * self.c
        while self.primed and len(self.pending) >= size:
            out.append(self._step(self.pending[:size], self.c))
            self.pending = self.pending[size:]
        return out

    def flush(self) -> list[np.ndarray]:
        """The last, partial chunk: whole frames only, padded as the offline pass pads."""
        frames = len(self.pending) // self.hop if self.primed else 0
        if not frames:
            return []
        samples = np.zeros(self.hop * self.c, np.float32)
        samples[: len(self.pending)] = self.pending
        self.pending = self.pending[:0]
        return [self._step(samples, frames)]

    def _step(self, samples_S: np.ndarray, frames: int) -> np.ndarray:
        cfg, c = self.cfg, self.c
        cache = self.state["kv_paddings"].shape[1]
        if cfg.attention_left_chunks < 0 and cache < self.start + c:
            self.state = incremental.grow_cache(self.state, max(2 * cache, self.start + c))
        paddings = np.zeros((1, c), np.float32)
        paddings[0, frames:] = 1.0
        rows = None
        if cfg.posemb == "sinusoidal":
            rows = sinusoid_table(c, cfg.hidden_size, start=self.start)
        lp, self.state = chunk_log_probs(
            cfg, self.params, self.state, samples_S[None], paddings, rows
        )
        self.start += c
        return np.asarray(lp[:frames])


class WindowPass:
    """A full-attention model re-run over a sliding window (inexact, see the module)."""

    def __init__(self, cfg, params, window_s: float, step_s: float, context_s: float):
        self.cfg, self.params = cfg, params
        self.hop, fs = hop_length(cfg), frame_seconds(cfg)
        self.head = receptive_field(cfg) - self.hop
        self.step = max(1, round(step_s / fs))  # frames each window pass commits
        self.ahead = max(0, round(context_s / fs))  # frames after them in the window
        self.window = self.hop * math.ceil(window_s * SAMPLE_RATE / self.hop)
        need = self.hop * (self.step + self.ahead) + self.head
        if self.window < need:
            raise InputError(
                f"window_s={window_s} is shorter than step_s + context_s and a frame "
                f"({need / SAMPLE_RATE:.2f} s): widen the window or shorten the others"
            )
        if learned_table_ends(cfg) and frame_count(self.window, cfg) > cfg.max_positions:
            raise InputError(
                f"window_s={window_s} holds more frames than the learned positional "
                f"table's {cfg.max_positions}: shorten the window"
            )
        self.audio = np.zeros(0, np.float32)
        self.offset = 0  # the stream's index of audio[0]
        self.samples = 0
        self.committed = 0  # frames emitted

    def check(self, n: int) -> None:
        pass

    def feed(self, x_S: np.ndarray) -> list[np.ndarray]:
        self.audio = np.concatenate([self.audio, x_S])
        self.samples += len(x_S)
        out = []
        while True:
            end = self.hop * (self.committed + self.step + self.ahead) + self.head
            if end > self.samples:
                break
            out.append(self._pass(end, self.step))
        # Every later window ends at or after the audio's end now, so starts after this.
        drop = max(0, self.samples - self.window) - self.offset
        if drop > 0:
            self.audio, self.offset = self.audio[drop:], self.offset + drop
        return out

    def flush(self) -> list[np.ndarray]:
        frames = max(int(frame_count(self.samples, self.cfg)), 0) - self.committed
        return [self._pass(self.samples, frames)] if frames > 0 else []

    def _pass(self, end: int, frames: int) -> np.ndarray:
        start = self.hop * math.ceil(max(0, end - self.window) / self.hop)
        seg = self.audio[start - self.offset : end - self.offset]
        audio = np.zeros((1, self.window), np.float32)
        paddings = np.ones((1, self.window), np.float32)
        audio[0, : len(seg)], paddings[0, : len(seg)] = seg, 0.0
        lp = window_log_probs(self.cfg, self.params, audio, paddings)
        first = self.committed - start // self.hop
        self.committed += frames
        return np.asarray(lp[first : first + frames])


class Stream:
    """push(audio) -> hypothesis; finish() -> final text; log_probs() -> frames so far.

    `exact` says whether the frames equal the offline pass (a chunked model) or come from
    a sliding window (window_s, step_s, context_s: a full-attention model)."""

    def __init__(
        self,
        params,
        cfg,
        tokenizer,
        *,
        gain: float = 1.0,
        window_s: float = 10.0,
        step_s: float = 1.0,
        context_s: float = 1.0,
    ):
        if "lm_head" not in params:
            raise InputError("the model has no CTC head (lm_head): fine-tune it before streaming")
        cfg = cfg.replace(scan_layers=False, remat="none")
        params = unstack_layers(params)
        self.cfg, self.gain, self.exact = cfg, gain, cfg.chunked
        if cfg.chunked:
            self._pass = ChunkedPass(cfg, params)
        else:
            self._pass = WindowPass(cfg, params, window_s, step_s, context_s)
        self._greedy = GreedyText(tokenizer)
        self._frames: list[np.ndarray] = []
        self._finished = False

    @classmethod
    def of(cls, transcriber, **options) -> "Stream":
        """A stream of an inference.Transcriber's model and tokenizer."""
        return cls(transcriber.params, transcriber.cfg, transcriber.tok, **options)

    @property
    def text(self) -> str:
        return self._greedy.text

    @property
    def cache_frames(self) -> int:
        """Frames of keys and values each layer caches (0 for a window stream): constant
        with a left limit, growing by doubling without one."""
        return self._pass.state["kv_paddings"].shape[1] if self.exact else 0

    def cache_shapes(self):
        """The shapes of every cache (a pytree of tuples; None for a window stream)."""
        return jax.tree.map(np.shape, self._pass.state) if self.exact else None

    def push(self, audio) -> str:
        """Takes any number of samples; returns the hypothesis over the frames so far."""
        if self._finished:
            raise InputError("push() after finish(): this stream is over; start a new one")
        samples = check_samples(audio)
        if self.gain != 1.0:
            samples = samples * np.float32(self.gain)
        self._pass.check(len(samples))
        for lp in self._pass.feed(samples):
            self._emit(lp)
        return self.text

    def finish(self) -> str:
        """Flushes the last partial chunk; the final text ("" for a stream of no frames)."""
        if not self._finished:
            for lp in self._pass.flush():
                self._emit(lp)
            self._finished = True
        return self.text

    def log_probs(self) -> np.ndarray:
        """[T, V]: the frames emitted so far."""
        if not self._frames:
            return np.zeros((0, self.cfg.vocab_size), np.float32)
        return np.concatenate(self._frames)

    def _emit(self, lp_CxV: np.ndarray) -> None:
        self._frames.append(lp_CxV)
        self._greedy.add(lp_CxV)
