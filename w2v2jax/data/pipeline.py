"""Batches for training and exact evaluation, built with grain from any random-access source.

A source is a tfds data source, `reader.load_split(path, split)`, `folders.folder_source(...)`
or any sequence of dicts with "audio" (int16 or float, 16 kHz mono) and a transcript field:

    train = reader.load_split("runs/corpus", "train")
    # or your own data: folders.build_dataset("runs/libri", {"train": "LibriSpeech/train-clean-100",
    #     "validation": "dev.tsv"}) then load_split("runs/libri", "train"), or without building:
    # folders.folder_source("LibriSpeech/train-clean-100") / folders.manifest_source("dev.tsv")
    tok = reader.tokenizer_for("runs/corpus", "text")   # or CharTokenizer.from_texts(texts)
    stats = Stats()                                     # optional: what was left out, by reason
    ds = make_batches(train, tok, batch_size=16, bucket_boundaries=[32000, 64000, 96000], seed=0,
                      stats=stats)
    it = iter(ds); batch = next(it); state = it.get_state(); ...; it.set_state(state)
    # with orbax: ocp.args.Composite(..., data=grain.checkpoint.CheckpointSave(it)) and
    # CheckpointRestore(it) on restore; the state is {"next_index": n}, a step count.

Every batch is a dict of numpy arrays with exactly batch_size rows:
  audio [B, S] float32, zero-mean unit-variance over each row's valid samples, 0 in padding
  audio_paddings [B, S] float32, 1.0 = padding;  labels [B, U] int32 (0 in padding)
  label_paddings [B, U] float32, 1.0 = padding;  valid [B] float32, 1.0 = a real example
  index [B] int32, the example's index in the source (-1 for a padding row)
With tokenizer=None (unlabeled audio, e.g. for pretraining) the label fields are absent.
S is a bucket boundary and U that bucket's label length, so a run compiles one step per bucket.

Bucketing (bucketing.py) is planned globally from the example lengths alone, so all processes
agree on every shape and each reads only its own batch_size rows. Training drops, per epoch,
the few examples that do not fill a last batch of their bucket (a different few each epoch, as
the order is reshuffled). An example whose labels cannot fit
(longer than the bucket's U, or than the frames it yields: CTC needs T >= U + repeats) becomes
a padding row (valid 0) and is counted in the `stats` passed in; skip_infeasible=False keeps
infeasible ones for a loss with zero_infinity.

Augmentation (augment=Augmenter(c.augment, seed=...), augment.py) applies to training batches
only, to each row as it is read in grain's worker threads, with a Generator seeded by
(seed, global batch number, example index): a pure function of the batch number, which is all
grain's iterator state holds, so a restored iterator yields the same augmented batches, and
the same utterance is augmented afresh each epoch. Buckets are planned from the stored lengths
(no audio is read to plan), so speed perturbation draws its factor among those whose length
still fits the row's bucket and, with skip_infeasible, still carries its labels: an utterance
within 11% of its bucket's top is never slowed to 0.9, and no row is lost to augmentation.

Shape legend: B batch rows, S samples, U label length.
"""

import collections
import itertools
import math
import sys
import threading
from collections.abc import Callable, Sequence

import grain
import numpy as np
from absl import logging

from w2v2jax.data import audio, bucketing
from w2v2jax.data.augment import Augmenter
from w2v2jax.data.bucketing import default_frames
from w2v2jax.errors import DataError

_LOG_FIRST = 5  # skipped examples logged one by one before only counting
_AUGMENT_STREAM = 0xA06  # apart from the shuffle's Generator([seed, epoch])


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


class _Assembler:
    """Reads examples and assembles one padded batch; runs in grain's worker threads."""

    def __init__(
        self,
        source,
        tokenizer,
        label_key,
        frames_fn,
        skip_infeasible,
        stats,
        augment=None,
        seed=0,
        normalize=True,
    ):
        self.source, self.tokenizer, self.label_key = source, tokenizer, label_key
        self.frames_fn, self.skip_infeasible, self.stats = frames_fn, skip_infeasible, stats
        self.augment, self.seed, self.normalize = augment, seed, normalize

    def labels(self, index: int, ex: dict) -> list[int]:
        if self.label_key not in ex:
            raise DataError(
                f"example {index} has no {self.label_key!r} field (it has "
                f"{sorted(ex)}); set label_key (--config.label) to one of those"
            )
        text = ex[self.label_key]
        text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        try:
            return self.tokenizer.encode(text)
        except ValueError as e:
            raise DataError(f"example {index} ({ex.get('id', '')}): {e}") from e

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

    def augmented(self, step: int, index: int, samples_S, labels, num_samples: int):
        """samples_S augmented for global batch `step`, its length kept within the bucket
        and, with skip_infeasible, long enough for its labels."""
        need = len(labels) + sum(a == b for a, b in itertools.pairwise(labels))

        def fits(n: int) -> bool:
            if not audio.MIN_SAMPLES <= n <= num_samples:
                return False
            return not (labels and self.skip_infeasible) or self.frames_fn(n) >= need

        rng = np.random.default_rng([self.seed, _AUGMENT_STREAM, step, index])
        return self.augment(samples_S, rng, fits)

    def batch(
        self,
        indices: Sequence[int],
        num_samples: int,
        max_u: int,
        strict_fit: bool,
        step: int | None = None,
    ):
        """One padded batch; without a tokenizer it holds audio only (no label fields).
        step: the global batch number, for augmentation (training only)."""
        rows, with_labels = len(indices), self.tokenizer is not None
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
            labels = self.labels(int(i), ex) if with_labels else []
            if self.augment is not None and step is not None:
                samples_S = self.augmented(step, int(i), samples_S, labels, num_samples)
            if with_labels and strict_fit and not self.fits(int(i), len(samples_S), labels, max_u):
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
        out = {
            "audio": (
                audio.normalize(audio_BxS, audio_paddings_BxS) if self.normalize else audio_BxS
            ),
            "audio_paddings": audio_paddings_BxS,
            "valid": valid_B,
            "index": index_B,
        }
        if with_labels:
            out.update(labels=labels_BxU, label_paddings=label_paddings_BxU)
        return out


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
    stats: Stats | None = None,
    augment: Augmenter | None = None,
    normalize: bool = True,
) -> grain.IterDataset:
    """Training batches (module docstring): shuffled by seed, bucketed, this shard's rows.

    bucket_boundaries: increasing sample counts; audio is padded to the smallest boundary that
      holds it, longer examples are skipped (logged). max_label_ratio: labels per frame that
      set each bucket's U. num_epochs=None repeats forever. frames_fn: the model's frame
      count for a number of samples. stats: counts the examples left out as batches are read.
      augment: applied to every row, seeded by (seed, batch, example) (module docstring);
      None, or every probability 0, leaves the audio as stored. normalize: z-normalise
      each row over its audio (the model's do_normalize); False leaves the samples raw.
      Returns a grain IterDataset: iter() gives a checkpointable iterator (get_state/set_state);
      bucketing.batches_per_epoch(lengths, ...) gives the length of an epoch.
    """
    boundaries = bucketing.check_boundaries(bucket_boundaries)
    if not 0 <= shard_index < shard_count:
        raise DataError(f"shard_index {shard_index} must be in [0, {shard_count})")
    lengths = _lengths(source, lengths)
    bucket_of = bucketing.assign_buckets(lengths, boundaries)
    bucketing.log_length_skips(lengths, boundaries)
    plan = bucketing.TrainPlan(bucket_of, batch_size * shard_count, seed, shuffle)
    if plan.batches_per_epoch == 0:
        raise DataError(
            f"no bucket holds {batch_size * shard_count} examples "
            f"(batch_size x shard_count) of the {len(bucket_of)}; use a smaller "
            "batch_size, fewer buckets or more data"
        )
    max_u = bucketing.label_lengths(boundaries, max_label_ratio, frames_fn)
    stats = Stats() if stats is None else stats
    augment = augment if augment is not None and augment.active else None
    if augment is not None:
        augment.warm()  # the room bank takes seconds: now, not as a stall between steps
    assembler = _Assembler(
        source, tokenizer, label_key, frames_fn, skip_infeasible, stats, augment, seed, normalize
    )
    rows = slice(shard_index * batch_size, (shard_index + 1) * batch_size)

    def make(j: int) -> dict:
        bucket, indices = plan(j)
        return assembler.batch(
            indices[rows], boundaries[bucket], max_u[bucket], strict_fit=True, step=j
        )

    total = sys.maxsize if num_epochs is None else plan.batches_per_epoch * num_epochs
    return (
        grain.MapDataset.range(total)
        .map(make)
        .to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch))
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
    stats: Stats | None = None,
    normalize: bool = True,
) -> grain.MapDataset:
    """Every example (or `indices`) exactly once, in order; the last batch padded (valid 0).

    Nothing is skipped: audio longer than the largest boundary pads to a multiple of it, and
    labels keep U = frames (ratio 1.0), which any feasible transcript fits. Returns a grain
    MapDataset of len() batches; iterate it, or index it. stats: counts truncated labels and
    cropped audio as batches are read. normalize: as make_batches'.
    """
    boundaries = bucketing.check_boundaries(bucket_boundaries)
    lengths = _lengths(source, lengths)
    order = np.arange(len(lengths)) if indices is None else np.asarray(indices, np.int64)
    global_batch = batch_size * shard_count
    n = max(1, math.ceil(len(order) / global_batch))
    order = np.concatenate([order, np.full(n * global_batch - len(order), -1, np.int64)])
    stats = Stats() if stats is None else stats
    assembler = _Assembler(
        source, tokenizer, label_key, frames_fn, False, stats, normalize=normalize
    )
    rows = slice(shard_index * batch_size, (shard_index + 1) * batch_size)

    def make(j: int) -> dict:
        batch = order[j * global_batch : (j + 1) * global_batch]
        longest = max([int(lengths[i]) for i in batch if i >= 0] or [boundaries[0]])
        if longest <= boundaries[-1]:
            num_samples = boundaries[int(np.searchsorted(boundaries, longest))]
        else:
            num_samples = math.ceil(longest / boundaries[-1]) * boundaries[-1]
        max_u = bucketing.label_lengths([num_samples], max_label_ratio, frames_fn)[0]
        return assembler.batch(batch[rows], num_samples, max_u, strict_fit=False)

    return grain.MapDataset.range(n).map(make)


def _lengths(source, lengths) -> np.ndarray:
    if lengths is None:
        return bucketing.source_lengths(source)
    return np.asarray(lengths, np.int64)
