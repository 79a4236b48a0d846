"""Bucketing: fitted boundaries, label budgets, bucket assignment, lengths and the epoch plan.

Shape legend: U label length.
"""

import itertools

import numpy as np
import pytest

from w2v2jax.data import bucketing
from w2v2jax.frames import frame_count


def test_default_frames_is_the_clipped_frame_count():
    assert [bucketing.default_frames(s) for s in (400, 720, 16000)] == [1, 2, 49]
    for s in (1000, 16000, 250000):
        assert bucketing.default_frames(s) == (s - 400) // 320 + 1
    for s in (0, 1, 399, 400, 401, 12345):
        assert bucketing.default_frames(s) == max(frame_count(s), 0)


def test_label_lengths_are_a_ratio_of_frames_in_multiples_of_8():
    assert bucketing.label_lengths([16000, 32000], 0.5, bucketing.default_frames) == [32, 56]
    assert bucketing.label_lengths([16000], 1.0, bucketing.default_frames) == [56]  # 49 frames
    assert bucketing.label_lengths([400], 0.5, bucketing.default_frames) == [8]  # the minimum
    assert bucketing.label_lengths([8000], 3.0, lambda s: 10) == [32]


def test_fit_boundaries_is_the_least_padding_choice():
    rng = np.random.default_rng(0)
    lengths = rng.integers(400, 16000, 60)
    grid = 1600
    fitted = bucketing.fit_boundaries(lengths, 3, grid=grid)
    cand = sorted({-(-int(n) // grid) * grid for n in lengths})

    def padded(bounds):
        b = np.asarray(bounds)
        return b[np.searchsorted(b, lengths)].sum()

    best = min((c for c in itertools.combinations(cand, 3) if c[-1] == cand[-1]), key=padded)
    assert len(fitted) == 3 and fitted == sorted(fitted) and fitted[-1] >= lengths.max()
    assert padded(fitted) == padded(best)


def test_fit_boundaries_caps_and_rejects():
    assert bucketing.fit_boundaries([500, 900, 50000], 4, grid=100, max_samples=1000) == [500, 900]
    with pytest.raises(ValueError, match="cannot fit 2 bucket boundaries to 0 usable lengths"):
        bucketing.fit_boundaries([100, 200], 2)


def test_check_boundaries_wants_increasing_counts_of_at_least_one_frame():
    assert bucketing.check_boundaries(np.array([8000, 16000])) == [8000, 16000]
    for bad in ([], [16000, 8000], [8000, 8000], [300, 8000]):
        with pytest.raises(ValueError, match="must be increasing sample counts >= 400"):
            bucketing.check_boundaries(bad)


def test_assign_buckets_smallest_holding_boundary_or_minus_one():
    buckets = bucketing.assign_buckets([399, 400, 8000, 8001, 16000, 16001], [8000, 16000])
    assert buckets.tolist() == [-1, 0, 0, 1, 1, -1]


def test_batches_per_epoch_counts_full_global_batches_per_bucket():
    lengths = [5000] * 9 + [12000] * 7 + [30000] * 4  # the last 4 fit no bucket
    kw = {"bucket_boundaries": [8000, 16000]}
    assert bucketing.batches_per_epoch(lengths, batch_size=4, **kw) == 2 + 1
    assert bucketing.batches_per_epoch(lengths, batch_size=2, shard_count=2, **kw) == 3
    assert bucketing.batches_per_epoch(lengths, batch_size=8, **kw) == 1
    assert bucketing.batches_per_epoch(lengths, batch_size=10, **kw) == 0


def test_train_plan_is_a_pure_function_of_seed_and_epoch():
    lengths = np.random.default_rng(0).integers(400, 16000, 50)
    bucket_of = bucketing.assign_buckets(lengths, [6000, 11000, 16000])
    plan = bucketing.TrainPlan(bucket_of, 4, seed=7, shuffle=True)
    n = plan.batches_per_epoch
    assert n == bucketing.batches_per_epoch(
        lengths, batch_size=4, bucket_boundaries=[6000, 11000, 16000]
    )
    first = [plan(j) for j in range(n)]
    for bucket, indices in first:
        assert len(indices) == 4 and (bucket_of[indices] == bucket).all()
    seen = np.concatenate([idx for _, idx in first])
    assert len(set(seen.tolist())) == len(seen)  # no example twice in one epoch
    again = bucketing.TrainPlan(bucket_of, 4, seed=7, shuffle=True)
    assert all(
        b == b2 and np.array_equal(i, i2)
        for (b, i), (b2, i2) in zip(first, [again(j) for j in range(n)], strict=True)
    )
    second = np.concatenate([plan(j)[1] for j in range(n, 2 * n)])
    assert second.tolist() != seen.tolist()  # reshuffled each epoch
    fixed = bucketing.TrainPlan(bucket_of, 4, seed=7, shuffle=False)
    assert [fixed(j)[1].tolist() for j in range(n)] == [
        fixed(j)[1].tolist() for j in range(n, 2 * n)
    ]


def test_source_lengths_from_the_source_or_its_records():
    class WithLengths(list):
        lengths = (3, 4)

    assert bucketing.source_lengths(WithLengths([{}, {}])).tolist() == [3, 4]
    records = [{"audio": np.zeros(n, np.int16)} for n in (500, 700)]
    assert bucketing.source_lengths(records).tolist() == [500, 700]  # read once
    with pytest.raises(ValueError, match=r"lengths has shape \(2,\); the source has 3 items"):
        bucketing.source_lengths(WithLengths([{}, {}, {}]))


def test_a_bucket_that_never_fills_a_batch_is_named(caplog):
    from absl import logging as absl_logging

    bucket_of = np.array([0] * 9 + [1] * 3 + [-1])  # bucket 1: 3 examples, batch of 4
    with caplog.at_level(absl_logging.WARNING):
        plan = bucketing.TrainPlan(bucket_of, 4, seed=0, shuffle=True)
    assert plan.batches_per_epoch == 2
    assert "buckets [1] hold fewer examples than a global batch of 4 (3)" in caplog.text
    assert "3 examples are never trained on" in caplog.text
