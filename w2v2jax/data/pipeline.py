"""Batches for training and exact evaluation, built with grain from any random-access source.

A source is a tfds data source, `corpus.load_split(path, split)`, `folders.folder_source(...)`
or any sequence of dicts with "audio" (int16 or float, 16 kHz mono) and a transcript field:

    train = corpus.load_split("runs/corpus", "train")
    # or your own data: folders.build_dataset("runs/libri", {"train": "LibriSpeech/train-clean-100",
    #     "validation": "dev.tsv"}) then load_split("runs/libri", "train"), or without building:
    # folders.folder_source("LibriSpeech/train-clean-100") / folders.manifest_source("dev.tsv")
    tok = CharTokenizer.from_texts(train[i]["text"] for i in range(len(train)))
    ds = make_batches(train, tok, batch_size=16, bucket_boundaries=[32000, 64000, 96000], seed=0)
    it = iter(ds); batch = next(it); state = it.get_state(); ...; it.set_state(state)
    # with orbax: ocp.args.Composite(..., data=grain.checkpoint.CheckpointSave(it)) and
    # CheckpointRestore(it) on restore; the state is {"next_index": n}, a step count.

Every batch is a dict of numpy arrays with exactly batch_size rows:
  audio [B, S] float32, zero-mean unit-variance over each row's valid samples, 0 in padding
  audio_paddings [B, S] float32, 1.0 = padding;  labels [B, U] int32 (0 in padding)
  label_paddings [B, U] float32, 1.0 = padding;  valid [B] float32, 1.0 = a real example
  index [B] int32, the example's index in the source (-1 for a padding row)
S is a bucket boundary and U that bucket's label length, so a run compiles one step per bucket.

Bucketing is planned globally from the example lengths alone (no audio is read to plan):
every process computes the same sequence of global batches of batch_size * shard_count
examples and reads only its own batch_size rows, so all processes agree on every shape.
Training drops, per epoch, the few examples that do not fill a last batch of their bucket (a
different few each epoch, as the order is reshuffled). An example whose labels cannot fit
(longer than the bucket's U, or than the frames it yields: CTC needs T >= U + repeats) becomes
a padding row (valid 0) and is counted in `ds.stats`; skip_infeasible=False keeps infeasible
ones for a loss with zero_infinity.

Shape legend: B batch rows, S samples, U label length.
"""

import collections
import functools
import itertools
import math
import sys
import threading
from collections.abc import Callable, Sequence

import grain
import numpy as np
from absl import logging

from w2v2jax.data import audio
from w2v2jax.data.corpus import metadata_lengths

CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)  # wav2vec2's feature encoder; pass frames_fn to differ
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
_LOG_FIRST = 5  # skipped examples logged one by one before only counting


def default_frames(num_samples: int) -> int:
    """Frames wav2vec2's conv stack yields for num_samples (about (S - 400) // 320 + 1)."""
    n = int(num_samples)
    for k, s in zip(CONV_KERNELS, CONV_STRIDES, strict=True):
        n = (n - k) // s + 1
    return max(n, 0)


class Stats:
    """Thread-safe counts of examples the pipeline left out, by reason."""

    def __init__(self):
        self.counts = collections.Counter()
        self._lock = threading.Lock()

    def add(self, reason: str, detail: str) -> None:
        with self._lock:
            self.counts[reason] += 1
            n = self.counts[reason]
        if n <= _LOG_FIRST or n % 1000 == 0:
            logging.warning("skipped %s (%s; %d so far)", detail, reason, n)

    def __repr__(self) -> str:
        return f"Stats({dict(self.counts)})"


def source_lengths(source) -> np.ndarray:
    """Sample counts of every example, from metadata when the source has them."""
    lengths = getattr(source, "lengths", None)
    if lengths is None and hasattr(source, "dataset_info"):  # a raw tfds data source
        lengths = metadata_lengths(source.dataset_info.data_dir, str(source.split))
    if lengths is None:
        logging.info(
            "reading all %d examples once for their lengths (pass lengths= or use "
            "corpus.load_split to skip this)",
            len(source),
        )
        lengths = [np.asarray(source[i]["audio"]).shape[0] for i in range(len(source))]
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (len(source),):
        raise ValueError(f"lengths has shape {lengths.shape}; the source has {len(source)} items")
    return lengths


def label_lengths(boundaries: Sequence[int], ratio: float, frames_fn) -> list[int]:
    """U per bucket: `ratio` labels per frame of the bucket's longest audio, rounded up to 8."""
    return [max(8, 8 * math.ceil(ratio * frames_fn(b) / 8)) for b in boundaries]


def fit_boundaries(lengths, count: int, grid: int = 800, max_samples: int | None = None):
    """`count` bucket boundaries (sample counts, multiples of `grid`, 50 ms by default) that
    minimise the total padded samples of `lengths`, by dynamic programming over the grid.

    The last boundary holds the longest example (up to `max_samples`; longer ones are left
    out). On the digits corpus, 8 fitted buckets pad batches to 89% audio against 78% for
    the fixed (1.5, 2, 2.5, 3, 4, 6) s, which is that much less compute spent on zeros.
    """
    lengths = np.asarray(lengths, np.int64)
    lengths = lengths[lengths >= audio.MIN_SAMPLES]
    if max_samples is not None:
        lengths = lengths[lengths <= max_samples]
    if count < 1 or not len(lengths):
        raise ValueError(f"cannot fit {count} bucket boundaries to {len(lengths)} usable lengths")
    lengths = np.sort(lengths)
    cand = np.unique(-(-lengths // grid) * grid)  # each length rounded up to the grid
    below = np.searchsorted(lengths, cand, side="right")  # examples each candidate holds
    k = min(count, len(cand))
    cost = below * cand.astype(np.float64)  # one bucket up to cand[j]
    back = np.zeros((k, len(cand)), np.int64)
    for level in range(1, k):
        new = np.full(len(cand), np.inf)
        for j in range(level, len(cand)):
            # last bucket (cand[i], cand[j]] after the best `level` buckets up to cand[i]
            c = cost[:j] + (below[j] - below[:j]) * float(cand[j])
            back[level, j] = int(np.argmin(c))
            new[j] = c[back[level, j]]
        cost = new
    out, j = [], len(cand) - 1
    for level in range(k - 1, -1, -1):
        out.append(int(cand[j]))
        j = back[level, j]
    return out[::-1]


def _check_boundaries(boundaries) -> list[int]:
    b = [int(x) for x in boundaries]
    if not b or b != sorted(set(b)) or b[0] < audio.MIN_SAMPLES:
        raise ValueError(
            f"bucket_boundaries must be increasing sample counts >= "
            f"{audio.MIN_SAMPLES}; got {list(boundaries)}"
        )
    return b


class _Reader:
    """Reads examples and assembles one padded batch; runs in grain's worker threads."""

    def __init__(self, source, tokenizer, label_key, frames_fn, skip_infeasible, stats):
        self.source, self.tokenizer, self.label_key = source, tokenizer, label_key
        self.frames_fn, self.skip_infeasible, self.stats = frames_fn, skip_infeasible, stats

    def labels(self, index: int, ex: dict) -> list[int]:
        if self.label_key not in ex:
            raise ValueError(
                f"example {index} has no {self.label_key!r} field (it has "
                f"{sorted(ex)}); pass label_key= one of those"
            )
        text = ex[self.label_key]
        text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        try:
            return self.tokenizer.encode(text)
        except ValueError as e:
            raise ValueError(f"example {index} ({ex.get('id', '')}): {e}") from e

    def fits(self, index: int, num_samples: int, labels: list[int], max_u: int) -> bool:
        if not labels:
            self.stats.add("empty transcript", f"example {index}")
            return False
        if len(labels) > max_u:
            self.stats.add(
                "labels longer than the bucket's label length",
                f"example {index}: {len(labels)} labels > {max_u}; raise "
                "max_label_ratio to keep such examples",
            )
            return False
        repeats = sum(a == b for a, b in itertools.pairwise(labels))
        frames = self.frames_fn(num_samples)
        if self.skip_infeasible and len(labels) + repeats > frames:
            self.stats.add(
                "labels longer than the frames can carry",
                f"example {index}: {len(labels)} labels (+{repeats} repeats) in {frames} frames",
            )
            return False
        return True

    def batch(self, indices: Sequence[int], num_samples: int, max_u: int, strict_fit: bool):
        rows = len(indices)
        audio_BxS = np.zeros((rows, num_samples), np.float32)
        audio_paddings_BxS = np.ones((rows, num_samples), np.float32)
        labels_BxU = np.zeros((rows, max_u), np.int32)
        label_paddings_BxU = np.ones((rows, max_u), np.float32)
        valid_B = np.zeros((rows,), np.float32)
        index_B = np.full((rows,), -1, np.int32)
        for row, i in enumerate(indices):
            if i < 0:
                continue
            ex = self.source[int(i)]
            samples_S = audio.to_float(np.asarray(ex["audio"]))
            labels = self.labels(int(i), ex)
            if strict_fit and not self.fits(int(i), len(samples_S), labels, max_u):
                continue
            if len(labels) > max_u:  # eval keeps every row; only labels beyond U are lost
                self.stats.add("labels truncated", f"example {i}: {len(labels)} > {max_u}")
                labels = labels[:max_u]
            if len(samples_S) > num_samples:  # lengths from file headers can be off by a sample
                self.stats.add("audio cropped", f"example {i}: {len(samples_S)} > {num_samples}")
                samples_S = samples_S[:num_samples]
            n = len(samples_S)
            audio_BxS[row, :n], audio_paddings_BxS[row, :n] = samples_S, 0.0
            labels_BxU[row, : len(labels)], label_paddings_BxU[row, : len(labels)] = labels, 0.0
            valid_B[row], index_B[row] = 1.0, i
        return {
            "audio": audio.normalize(audio_BxS, audio_paddings_BxS),
            "audio_paddings": audio_paddings_BxS,
            "labels": labels_BxU,
            "label_paddings": label_paddings_BxU,
            "valid": valid_B,
            "index": index_B,
        }


class _TrainPlan:
    """Global batches of each epoch as (bucket, indices); a pure function of (seed, epoch)."""

    def __init__(self, bucket_of: np.ndarray, global_batch: int, seed: int, shuffle: bool):
        self.bucket_of, self.global_batch = bucket_of, global_batch
        self.seed, self.shuffle = seed, shuffle
        self.kept = np.flatnonzero(bucket_of >= 0)
        counts = np.bincount(bucket_of[self.kept], minlength=bucket_of.max(initial=0) + 1)
        self.batches_per_epoch = int((counts // global_batch).sum())
        self._lock = threading.Lock()

    @functools.lru_cache(maxsize=4)  # noqa: B019  (a few epochs; the plan lives with the data)
    def epoch(self, e: int) -> list[tuple[int, np.ndarray]]:
        order = self.kept
        if self.shuffle:
            order = np.random.default_rng([self.seed, e]).permutation(self.kept)
        buckets = self.bucket_of[order]
        batches = []  # (position where the batch fills up, bucket, indices)
        for b in np.unique(buckets):
            positions = np.flatnonzero(buckets == b)
            full = len(positions) // self.global_batch * self.global_batch
            for chunk in positions[:full].reshape(-1, self.global_batch):
                batches.append((chunk[-1], int(b), order[chunk]))
        batches.sort(key=lambda x: x[0])  # emitted in the order a streaming bucketer would
        return [(b, idx) for _, b, idx in batches]

    def __call__(self, j: int) -> tuple[int, np.ndarray]:
        with self._lock:
            return self.epoch(j // self.batches_per_epoch)[j % self.batches_per_epoch]


def _bucket_of(lengths, boundaries) -> np.ndarray:
    bucket = np.searchsorted(np.asarray(boundaries), lengths, side="left")
    return np.where((bucket < len(boundaries)) & (lengths >= audio.MIN_SAMPLES), bucket, -1)


def make_batches(
    source,
    tokenizer,
    *,
    batch_size: int,
    bucket_boundaries: Sequence[int],
    seed: int,
    shuffle: bool = True,
    num_epochs: int | None = None,
    shard_index: int = 0,
    shard_count: int = 1,
    label_key: str = "text",
    max_label_ratio: float = 0.5,
    frames_fn: Callable[[int], int] = default_frames,
    skip_infeasible: bool = True,
    lengths: Sequence[int] | None = None,
    num_threads: int = 2,
    prefetch: int = 4,
) -> grain.IterDataset:
    """Training batches (module docstring): shuffled by seed, bucketed, this shard's rows.

    bucket_boundaries: increasing sample counts; audio is padded to the smallest boundary that
      holds it, longer examples are skipped (logged). max_label_ratio: labels per frame that
      set each bucket's U. num_epochs=None repeats forever. frames_fn: the model's frame
      count for a number of samples. Returns a grain IterDataset: iter() gives a checkpointable
      iterator (get_state/set_state); `.stats` counts the examples left out.
    """
    boundaries = _check_boundaries(bucket_boundaries)
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard_index {shard_index} must be in [0, {shard_count})")
    lengths = source_lengths(source) if lengths is None else np.asarray(lengths, np.int64)
    bucket_of = _bucket_of(lengths, boundaries)
    _log_length_skips(lengths, bucket_of, boundaries)
    plan = _TrainPlan(bucket_of, batch_size * shard_count, seed, shuffle)
    if plan.batches_per_epoch == 0:
        raise ValueError(
            f"no bucket holds {batch_size * shard_count} examples "
            f"(batch_size x shard_count) of the {len(bucket_of)}; use a smaller "
            "batch_size, fewer buckets or more data"
        )
    max_u = label_lengths(boundaries, max_label_ratio, frames_fn)
    stats = Stats()
    reader = _Reader(source, tokenizer, label_key, frames_fn, skip_infeasible, stats)
    rows = slice(shard_index * batch_size, (shard_index + 1) * batch_size)

    def make(j: int) -> dict:
        bucket, indices = plan(j)
        return reader.batch(indices[rows], boundaries[bucket], max_u[bucket], strict_fit=True)

    total = sys.maxsize if num_epochs is None else plan.batches_per_epoch * num_epochs
    ds = (
        grain.MapDataset.range(total)
        .map(make)
        .to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch))
    )
    ds.stats, ds.batches_per_epoch = stats, plan.batches_per_epoch
    return ds


def _log_length_skips(lengths, bucket_of, boundaries) -> None:
    short = int((lengths < audio.MIN_SAMPLES).sum())
    long = int((lengths > boundaries[-1]).sum())
    if short:
        logging.warning(
            "skipping %d examples shorter than %d samples (one frame)", short, audio.MIN_SAMPLES
        )
    if long:
        logging.warning(
            "skipping %d of %d examples longer than the largest bucket boundary "
            "%d samples (%.1f s); add a larger boundary to keep them",
            long,
            len(lengths),
            boundaries[-1],
            boundaries[-1] / audio.SAMPLE_RATE,
        )


def make_eval_batches(
    source,
    tokenizer,
    *,
    batch_size: int,
    bucket_boundaries: Sequence[int],
    shard_index: int = 0,
    shard_count: int = 1,
    label_key: str = "text",
    max_label_ratio: float = 1.0,
    frames_fn: Callable[[int], int] = default_frames,
    lengths: Sequence[int] | None = None,
    indices: Sequence[int] | None = None,
) -> grain.MapDataset:
    """Every example (or `indices`) exactly once, in order; the last batch padded (valid 0).

    Nothing is skipped: audio longer than the largest boundary pads to a multiple of it, and
    labels keep U = frames (ratio 1.0), which any feasible transcript fits. Returns a grain
    MapDataset of len() batches; iterate it, or index it.
    """
    boundaries = _check_boundaries(bucket_boundaries)
    lengths = source_lengths(source) if lengths is None else np.asarray(lengths, np.int64)
    order = np.arange(len(lengths)) if indices is None else np.asarray(indices, np.int64)
    global_batch = batch_size * shard_count
    n = max(1, math.ceil(len(order) / global_batch))
    order = np.concatenate([order, np.full(n * global_batch - len(order), -1, np.int64)])
    reader = _Reader(source, tokenizer, label_key, frames_fn, False, Stats())
    rows = slice(shard_index * batch_size, (shard_index + 1) * batch_size)

    def make(j: int) -> dict:
        batch = order[j * global_batch : (j + 1) * global_batch]
        longest = max([int(lengths[i]) for i in batch if i >= 0] or [boundaries[0]])
        if longest <= boundaries[-1]:
            num_samples = boundaries[int(np.searchsorted(boundaries, longest))]
        else:
            num_samples = math.ceil(longest / boundaries[-1]) * boundaries[-1]
        max_u = label_lengths([num_samples], max_label_ratio, frames_fn)[0]
        return reader.batch(batch[rows], num_samples, max_u, strict_fit=False)

    ds = grain.MapDataset.range(n).map(make)
    ds.stats = reader.stats
    return ds
