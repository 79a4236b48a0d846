"""Batched offline transcription of many files, results in the order given.

    t = Transcriber(workdir)
    for path, result in transcribe_files(t, paths, beam=0, timestamps=True):
        if isinstance(result, Transcript):
            print(path, result.text, result.words)
        else:                       # an AudioError or InputError naming the file
            print(path, "failed:", result)

Each file's length is read from its header, then the files up to the Transcriber's chunk
(30 s) are sorted into a few padded shapes and run in batches, so a run compiles once per
shape (the persistent compile cache keeps them for the next run). Each file is
z-normalised on its own before padding and its padded frames are masked, so a file gets
the log-probs of the one-file pass (Transcriber.log_probs) within float rounding
(tests/transcribe_batch_test.py) and the same text.

The shapes depend on the CNN. The layer-norm CNN ("layer") normalises each frame on its
own, so padding cannot reach a file's frames: the lengths are fitted into `num_buckets`
shapes, multiples of 0.1 s, with the least padding (data/bucketing.fit_boundaries). The
group-norm CNN ("group", the base model and the tiny/demo configs, as transformers)
normalises each channel over the whole input, padding included: its frames change with
the amount of padding. There a shape is a file's own whole-second length, the one the
one-file pass pads it to, so files are batched only with files of that same padded length
and keep their one-file result exactly.

A batch holds `batch_size` files, or with 0 about BATCH_SECONDS of padded audio; the last
files of a shape run in batches of power-of-two rows (10 files: 8 + 2), so no row is
padding and a run compiles a few row counts per shape, each once. Files longer
than the chunk run one at a time: a chunked model (attention_chunk_frames > 0) exactly, in
one streaming pass (streaming.Stream over the z-normalised file), a full-attention model
with Transcriber.log_probs's overlapped chunks.

A file that cannot be read or transcribed is yielded as its error and the others go on;
with strict=True the first such file (in input order) is raised once every file before it
has been yielded, and no file after it is run.
"""

import concurrent.futures
import os
import sys

import jax.numpy as jnp
import numpy as np
import soundfile as sf
from tqdm import tqdm

from w2v2jax.data import audio as audiolib
from w2v2jax.data.bucketing import fit_boundaries
from w2v2jax.errors import InputError, W2V2JaxError
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.inference import check_beam, padded_length
from w2v2jax.transcript_formats import Transcript

BATCH_SECONDS = 8  # padded audio per automatic batch: 8 s beat 4, 16 and 32 s on 2 CPU cores
NUM_BUCKETS = 8  # shapes (compiles, cached) for the layer-norm CNN
GRID = 1600  # their lengths are multiples of 0.1 s (5 frames)


def read_manifest(path: str) -> list[str]:
    """The audio paths a manifest lists: one per line, or TSV whose first column is the path
    (the rest is ignored). Relative paths are resolved against the manifest's folder; blank
    lines, "#" lines and a first line whose first column is "path" (a header) are skipped."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise InputError(f"--manifest={path}: no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"--manifest={path}: cannot read it as UTF-8 text ({e}); give a text file of "
            "one audio path per line (or path<TAB>anything)"
        ) from None
    folder = os.path.dirname(path)
    out = []
    for n, line in enumerate(lines):
        field = line.split("\t", 1)[0].strip()
        if not field or field.startswith("#") or (n == 0 and field.lower() == "path"):
            continue
        out.append(field if os.path.isabs(field) else os.path.join(folder, field))
    if not out:
        raise InputError(f"--manifest={path} lists no audio files: put one path per line")
    return out


def probe_samples(path: str) -> int:
    """The file's length at 16 kHz from its header, nothing decoded; a file the header
    does not vouch for is loaded, so it fails here with load_audio's error naming it."""
    try:
        info = sf.info(path)
        n = round(info.frames * SAMPLE_RATE / info.samplerate)
    except (RuntimeError, OSError, ValueError, TypeError):
        n = 0
    if n < audiolib.MIN_SAMPLES:
        n = len(audiolib.load_audio(path))
    return n


def bucket_lengths(lengths, cfg, num_buckets: int = NUM_BUCKETS) -> list[int]:
    """The padded lengths (samples) files of these lengths run in; see the module."""
    if cfg.feat_extract_norm == "group":
        return sorted({padded_length(int(n)) for n in lengths})
    # Whole seconds padded the built-in corpus's 1-4 s files by 35%; fitted 0.1 s steps
    # by a few percent (benchmarks/transcribe.py).
    return fit_boundaries(np.maximum(np.asarray(lengths), GRID), num_buckets, grid=GRID)


def shape_for(num_samples: int, buckets: list[int], cfg) -> int:
    """The padded length a file of num_samples runs in (its own whole seconds when it
    outgrows the plan: a header that misstated its length)."""
    own = padded_length(num_samples)
    if cfg.feat_extract_norm == "group":
        return own
    return next((b for b in buckets if b >= num_samples), own)


def plan_batches(lengths: dict[int, int], cfg, chunk: int, batch_size: int = 0, **kw):
    """[(shape, rows, indices)] covering every index of `lengths` (index -> samples);
    shape 0 marks a long file, run alone. Sorted by their first index, so the output,
    which follows the input order, starts early."""
    short = {i: n for i, n in lengths.items() if n <= chunk}
    buckets = bucket_lengths(list(short.values()), cfg, **kw) if short else []
    by_shape: dict[int, list[int]] = {}
    for i in sorted(short, key=lambda i: (short[i], i)):
        by_shape.setdefault(shape_for(short[i], buckets, cfg), []).append(i)
    out = [(0, 1, [i]) for i, n in lengths.items() if n > chunk]
    for shape, indices in by_shape.items():
        rows = batch_size if batch_size > 0 else max(1, BATCH_SECONDS * SAMPLE_RATE // shape)
        for k in range(0, len(indices), rows):
            part = indices[k : k + rows]
            # A shape's last, partial batch runs as pieces of power-of-two rows (10 files:
            # 8 + 2), so no row is padding and each row count compiles once.
            while part:
                n = len(part) if len(part) == rows else 1 << (len(part).bit_length() - 1)
                out.append((shape, n, part[:n]))
                part = part[n:]
    return sorted(out, key=lambda b: min(b[2]))


def power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def long_log_probs(t, audio_S: np.ndarray) -> np.ndarray:
    """[T, V] of a file longer than the chunk: a chunked model's exact streaming pass over
    the file as the model takes it (Transcriber.model_input: what the offline pass over
    the whole file computes), else
    Transcriber.log_probs's overlapped chunks."""
    if not t.cfg.chunked:
        return t.log_probs(audio_S)
    stream = t.stream()
    stream.push(t.model_input(audio_S[None], np.zeros((1, len(audio_S)), np.float32))[0])
    stream.finish()
    return stream.log_probs()


def decode_batch(t, lp_BxTxV: np.ndarray, pads_BxT: np.ndarray, beam: int) -> list[str]:
    """Each row's text, as Transcriber.decode gives it for the row's unpadded frames."""
    from w2v2jax.ctc import greedy_decode, prefix_beam_search

    if beam:
        ids, _ = prefix_beam_search(lp_BxTxV, pads_BxT, beam_size=beam, num_best=1)
        ids = np.asarray(ids)[:, 0]
    else:
        ids = np.asarray(greedy_decode(jnp.asarray(lp_BxTxV), jnp.asarray(pads_BxT)))
    return [t.tok.decode([int(i) for i in row if i >= 0]) for row in ids]


def _load(paths: list[str], indices: list[int]) -> dict:
    out = {}
    for i in indices:
        try:
            out[i] = audiolib.load_audio(paths[i])
        except W2V2JaxError as e:
            out[i] = e
    return out


class Run:
    """The state of one transcribe_files call: the results waiting for their turn."""

    def __init__(self, t, paths, beam, timestamps, strict):
        self.t, self.paths, self.beam, self.timestamps = t, paths, beam, timestamps
        self.strict = strict
        self.done: dict[int, object] = {}
        self.cutoff = len(paths)  # strict: no index at or past a failed one is run

    def fail(self, i: int, error: W2V2JaxError) -> None:
        self.done[i] = error
        if self.strict:
            self.cutoff = min(self.cutoff, i)

    def result(self, i: int, lp_TxV: np.ndarray, text: str, samples: int) -> None:
        t, tokens, words = self.t, None, None
        try:
            if self.timestamps:
                # A phoneme model's text is its own IPA; its token rows are the phones.
                tokens, words = t.align(lp_TxV, text, ipa=t.phonemes) if text.strip() else ([], [])
        except W2V2JaxError as e:
            self.fail(i, e)
            return
        seconds = samples / SAMPLE_RATE
        self.done[i] = Transcript(self.paths[i], text, seconds, tokens, words, t.phonemes, i)

    def run(self, shape: int, rows: int, audios: dict) -> None:
        """One planned batch (shape 0: one long file); `audios` index -> samples or error."""
        groups: dict[int, list[int]] = {}
        for i, a in audios.items():
            if isinstance(a, W2V2JaxError):
                self.fail(i, a)
            elif i < self.cutoff:
                groups.setdefault(self.length_for(len(a), shape), []).append(i)
        for i in groups.pop(0, []):
            try:
                lp = long_log_probs(self.t, audios[i])
                text = self.t.decode(lp, self.beam)
            except W2V2JaxError as e:
                self.fail(i, e)
                continue
            self.result(i, lp, text, len(audios[i]))
        for length, idx in groups.items():
            try:
                n = rows if length == shape else power_of_two(len(idx))
                lp, pads = self.t.log_probs_batch([audios[i] for i in idx], length, n)
                texts = decode_batch(self.t, lp, pads, self.beam)
            except W2V2JaxError as e:
                for i in idx:
                    self.fail(i, e)
                continue
            for row, i in enumerate(idx):
                frames = round(float((1.0 - pads[row]).sum()))
                self.result(i, lp[row, :frames], texts[row], len(audios[i]))

    def length_for(self, samples: int, shape: int) -> int:
        """The padded length a loaded file runs in: its planned shape, unless its header
        misstated its length (then the shape it needs; 0 = long, run alone)."""
        if samples > self.t.chunk:
            return 0
        if shape and samples <= shape and self.t.cfg.feat_extract_norm != "group":
            return shape
        return padded_length(samples)


def transcribe_files(
    t,
    paths: list[str],
    *,
    beam: int = 0,
    timestamps: bool = False,
    batch_size: int = 0,
    strict: bool = False,
    progress: bool | None = None,
    progress_file=None,
    num_buckets: int = NUM_BUCKETS,
):
    """Yields (path, Transcript or W2V2JaxError) for every path, in the order given.

    t: an inference.Transcriber. timestamps: align each text (Transcript.words, .tokens).
    progress: a tqdm bar of audio seconds on progress_file (stderr); None shows it on a
    terminal only."""
    check_beam(beam)
    if batch_size < 0:
        raise InputError(f"batch_size={batch_size}: give a number of files, or 0 (automatic)")
    run = Run(t, paths, beam, timestamps, strict)
    lengths = {}
    for i, p in enumerate(paths):
        if i >= run.cutoff:
            break
        try:
            lengths[i] = probe_samples(p)
        except W2V2JaxError as e:
            run.fail(i, e)
    batches = plan_batches(lengths, t.cfg, t.chunk, batch_size, num_buckets=num_buckets)
    bar = tqdm(
        total=round(sum(lengths.values()) / SAMPLE_RATE, 2),
        unit=" audio s",
        desc="transcribe",
        file=progress_file or sys.stderr,
        disable=None if progress is None else not progress,
        leave=False,
    )
    emitted = 0
    with concurrent.futures.ThreadPoolExecutor(1) as pool, bar:
        # The next batch's files are read while the model runs on this one.
        loading = pool.submit(_load, paths, batches[0][2]) if batches else None
        for k, (shape, rows, indices) in enumerate(batches):
            audios = loading.result()
            if k + 1 < len(batches):
                loading = pool.submit(_load, paths, batches[k + 1][2])
            if min(indices) < run.cutoff:
                run.run(shape, rows, audios)
            bar.update(round(sum(lengths[i] for i in indices) / SAMPLE_RATE, 2))
            while emitted in run.done:
                yield _emit(run, emitted)
                emitted += 1
        while emitted < len(paths) and emitted in run.done:
            yield _emit(run, emitted)
            emitted += 1


def _emit(run: Run, i: int):
    result = run.done.pop(i)
    if run.strict and isinstance(result, W2V2JaxError):
        raise result
    return run.paths[i], result
