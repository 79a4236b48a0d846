"""grain batches: static bucketed shapes, exact resume, sharding, skips, exact evaluation.

Shape legend: B batch rows, S samples, U label length.
"""

import numpy as np
import pytest
import soundfile as sf
import tensorflow_datasets as tfds

from w2v2jax.data import audio, bucketing, folders, pipeline, reader, texts
from w2v2jax.data.tokenizer import CharTokenizer

BOUNDARIES = [8000, 16000, 24000]


def _source(n=60, seed=0):
    """In-memory examples: int16 noise of 0.15-1.5 s with 1-3 digit words (always feasible)."""
    rng = np.random.default_rng(seed)
    out = []
    for num in rng.integers(2400, 24000, size=n):
        words = rng.integers(0, 10, size=1 + (num > 9000) + (num > 16000))
        audio_S = (rng.standard_normal(num) * 3000).astype(np.int16)
        out.append({"audio": audio_S, "text": " ".join(texts.DIGITS[j] for j in words)})
    return out


@pytest.fixture(scope="module")
def data():
    src = _source()
    return src, CharTokenizer.from_texts(e["text"] for e in src)


def _batches(ds, n):
    it = iter(ds)
    return [next(it) for _ in range(n)]


def test_batches_have_static_shapes_and_faithful_contents(data):
    src, tok = data
    ds = pipeline.make_batches(src, tok, batch_size=4, bucket_boundaries=BOUNDARIES, seed=0)
    max_u = bucketing.label_lengths(BOUNDARIES, 0.5, bucketing.default_frames)
    for b in _batches(ds, 12):
        rows, num_samples = b["audio"].shape
        bucket = BOUNDARIES.index(num_samples)
        assert rows == 4 and b["labels"].shape == (4, max_u[bucket]) and b["valid"].all()
        assert b["audio"].dtype == np.float32 and b["labels"].dtype == np.int32
        for r in range(4):
            ex = src[b["index"][r]]
            n = len(ex["audio"])
            assert BOUNDARIES[bucket - 1] < n <= num_samples if bucket else n <= num_samples
            assert b["audio_paddings"][r].sum() == num_samples - n
            valid = b["audio"][r, :n]
            assert abs(valid.mean()) < 1e-4 and abs(valid.std() - 1) < 1e-3
            assert np.all(b["audio"][r, n:] == 0)
            labels = b["labels"][r][b["label_paddings"][r] == 0]
            assert tok.decode(labels) == ex["text"]


def test_without_a_tokenizer_batches_hold_audio_only(data):
    src, tok = data
    with_labels = pipeline.make_batches(
        src, tok, batch_size=4, bucket_boundaries=BOUNDARIES, seed=0
    )
    audio_only = pipeline.make_batches(
        src, None, batch_size=4, bucket_boundaries=BOUNDARIES, seed=0
    )
    for a, b in zip(_batches(with_labels, 6), _batches(audio_only, 6), strict=True):
        assert set(b) == {"audio", "audio_paddings", "valid", "index"}
        for k in b:
            np.testing.assert_array_equal(a[k], b[k])
    unlabeled = [{"audio": e["audio"]} for e in src]  # no transcript field at all
    ev = pipeline.make_eval_batches(unlabeled, None, batch_size=8, bucket_boundaries=BOUNDARIES)
    seen = [int(i) for b in ev for i in b["index"] if i >= 0]
    assert sorted(seen) == list(range(len(src)))


def test_resume_from_saved_state_gives_the_same_batches(data):
    src, tok = data
    ds = pipeline.make_batches(src, tok, batch_size=4, bucket_boundaries=BOUNDARIES, seed=5)
    per_epoch = bucketing.batches_per_epoch(
        bucketing.source_lengths(src), batch_size=4, bucket_boundaries=BOUNDARIES
    )
    it = iter(ds)
    for _ in range(per_epoch + 3):  # the state is taken in the second epoch
        next(it)
    state = it.get_state()
    expected = [next(it) for _ in range(4)]
    resumed = iter(ds)
    resumed.set_state(state)
    for a, b in zip(expected, [next(resumed) for _ in range(4)], strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_iterator_state_round_trips_through_orbax(data, tmp_path):
    import grain
    import orbax.checkpoint as ocp

    src, tok = data
    ds = pipeline.make_batches(src, tok, batch_size=4, bucket_boundaries=BOUNDARIES, seed=2)
    it = iter(ds)
    for _ in range(5):
        next(it)
    with ocp.CheckpointManager(tmp_path / "ckpt") as mngr:
        mngr.save(5, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(it)))
        mngr.wait_until_finished()
        expected = [next(it)["index"] for _ in range(3)]
        resumed = iter(ds)
        mngr.restore(5, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(resumed)))
    assert all(np.array_equal(a, next(resumed)["index"]) for a in expected)


def test_epochs_are_reshuffled_and_seeded(data):
    src, tok = data
    kw = {"batch_size": 4, "bucket_boundaries": BOUNDARIES, "num_epochs": 2}
    ds = pipeline.make_batches(src, tok, seed=1, **kw)
    batches = list(ds)
    per_epoch = bucketing.batches_per_epoch(
        bucketing.source_lengths(src), batch_size=4, bucket_boundaries=BOUNDARIES
    )
    assert len(batches) == 2 * per_epoch
    first = np.concatenate([b["index"] for b in batches[:per_epoch]])
    second = np.concatenate([b["index"] for b in batches[per_epoch:]])
    assert len(set(first)) == len(first)  # no example twice in one epoch
    assert len(src) - len(first) < 4 * len(BOUNDARIES)  # only partial buckets dropped
    assert first.tolist() != second.tolist()
    again = np.concatenate([b["index"] for b in pipeline.make_batches(src, tok, seed=1, **kw)])
    other = np.concatenate([b["index"] for b in pipeline.make_batches(src, tok, seed=2, **kw)])
    assert again.tolist() == np.concatenate([first, second]).tolist() != other.tolist()


def test_shards_read_disjoint_rows_of_the_same_global_batches(data):
    src, tok = data
    kw = {"bucket_boundaries": BOUNDARIES, "seed": 3}
    whole = _batches(pipeline.make_batches(src, tok, batch_size=8, **kw), 5)
    shards = [
        _batches(
            pipeline.make_batches(src, tok, batch_size=4, shard_index=i, shard_count=2, **kw), 5
        )
        for i in range(2)
    ]
    for w, s0, s1 in zip(whole, *shards, strict=True):
        assert s0["audio"].shape == s1["audio"].shape and s0["labels"].shape == s1["labels"].shape
        assert np.array_equal(np.concatenate([s0["index"], s1["index"]]), w["index"])
        assert np.array_equal(np.concatenate([s0["audio"], s1["audio"]]), w["audio"])


def test_infeasible_and_too_long_examples_are_skipped_and_counted():
    ok = [{"audio": np.full(6000, 100 * i, np.int16), "text": "one"} for i in range(1, 8)]
    infeasible = {"audio": np.ones(2000, np.int16), "text": "seven " * 12}  # 71 labels, 5 frames
    too_long = {"audio": np.ones(30000, np.int16), "text": "one"}  # beyond every bucket
    src = [*ok, infeasible, too_long]
    tok = CharTokenizer.from_texts(e["text"] for e in src)
    kw = {"batch_size": 4, "bucket_boundaries": BOUNDARIES, "seed": 0, "num_epochs": 1}
    stats = pipeline.Stats()
    ds = pipeline.make_batches(src, tok, max_label_ratio=20.0, stats=stats, **kw)  # U not the limit
    batches = list(ds)
    assert len(batches) == 2
    rows = np.concatenate([b["index"] for b in batches])
    assert sorted(rows.tolist()) == [-1, *range(7)]
    padding = np.concatenate([b["audio_paddings"].all(axis=1) for b in batches])
    assert np.array_equal(padding, rows < 0)
    assert stats.counts == {"labels longer than the frames can carry": 1}
    kept = pipeline.make_batches(src, tok, max_label_ratio=20.0, skip_infeasible=False, **kw)
    assert sorted(np.concatenate([b["index"] for b in kept]).tolist()) == list(range(8))
    capped_stats = pipeline.Stats()
    capped = pipeline.make_batches(
        src, tok, max_label_ratio=0.5, skip_infeasible=False, stats=capped_stats, **kw
    )
    assert sorted(np.concatenate([b["index"] for b in capped]).tolist()) == [-1, *range(7)]
    assert capped_stats.counts == {"labels longer than the bucket's label length": 1}
    assert not hasattr(ds, "stats") and not hasattr(ds, "batches_per_epoch")


def test_frames_fn_sets_label_capacity_and_feasibility(data):
    src, tok = data
    stats = pipeline.Stats()
    ds = pipeline.make_batches(
        src,
        tok,
        batch_size=4,
        bucket_boundaries=BOUNDARIES,
        seed=0,
        frames_fn=lambda s: 2,
        stats=stats,
    )
    for b in _batches(ds, 3):
        assert b["labels"].shape == (4, 8)  # the minimum U
        assert b["valid"].sum() == 0  # every digit word needs more than 2 frames
    assert sum(stats.counts.values()) >= 12


def test_unknown_characters_name_the_example(data):
    src, tok = data
    ds = pipeline.make_batches(
        src + [{"audio": np.ones(4000, np.int16), "text": "q"}] * 8,
        tok,
        batch_size=4,
        bucket_boundaries=BOUNDARIES,
        seed=0,
    )
    with pytest.raises(ValueError, match=r"example 6\d.*'q'.*outside the char vocabulary"):
        _batches(ds, 30)


@pytest.mark.parametrize("shard_count", [1, 2])
def test_eval_covers_every_example_once_with_padded_rows(data, shard_count):
    src, tok = data
    src = src + [{"audio": np.ones(40000, np.int16), "text": "one"}]  # beyond every bucket
    shards = [
        pipeline.make_eval_batches(
            src,
            tok,
            batch_size=4,
            bucket_boundaries=BOUNDARIES,
            shard_index=i,
            shard_count=shard_count,
        )
        for i in range(shard_count)
    ]
    seen = []
    for step in zip(*shards, strict=True):
        assert len({b["audio"].shape for b in step}) == 1  # all processes agree on shapes
        for b in step:
            rows = b["index"] >= 0
            assert np.array_equal(rows, b["valid"] > 0)
            assert b["audio_paddings"][~rows].all() and b["label_paddings"][~rows].all()
            seen += b["index"][rows].tolist()
    assert seen == list(range(len(src)))
    last = [shard[len(shard) - 1] for shard in shards]
    assert sum(b["valid"].sum() for b in last) == len(src) % (4 * shard_count)  # 61 = 7x8 + 5
    assert {len(b["audio"][0]) for b in shards[0]} <= set(BOUNDARIES) | {48000}


def test_eval_counts_truncated_labels_and_cropped_audio_in_the_stats_passed():
    src = [
        {"audio": np.ones(6000, np.int16), "text": "seven " * 12},  # 71 labels > U = 8
        {"audio": np.ones(7000, np.int16), "text": "one"},  # header said 6000 samples
    ]
    tok = CharTokenizer.from_texts(e["text"] for e in src)
    stats = pipeline.Stats()
    ds = pipeline.make_eval_batches(
        src,
        tok,
        batch_size=2,
        bucket_boundaries=[6000],
        max_label_ratio=0.01,
        lengths=[6000, 6000],
        stats=stats,
    )
    (b,) = list(ds)
    assert b["labels"].shape == (2, 8) and b["valid"].tolist() == [1.0, 1.0]
    assert b["audio"].shape == (2, 6000) and not b["audio_paddings"].any()
    assert stats.counts == {"labels truncated": 1, "audio cropped": 1}
    assert not hasattr(ds, "stats")


def test_tfds_sources_from_user_folders_batch_without_reading_lengths(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i, text in enumerate(["three one", "go left", "nine", "stop", "yes no", "two"]):
        sf.write(tmp_path / f"{i}.wav", 0.1 * rng.standard_normal(4000 + 1500 * i), 22050)
        lines.append(f"{i}.wav\t{text}")
    (tmp_path / "m.tsv").write_text("\n".join(lines))
    path = folders.build_dataset(tmp_path / "ds", {"train": tmp_path / "m.tsv"}, num_workers=1)
    split = reader.load_split(path, "train")
    raw = tfds.builder_from_directory(str(path)).as_data_source(split="train")
    assert bucketing.source_lengths(raw).tolist() == split.lengths.tolist()  # from metadata
    tok = CharTokenizer.from_texts(split[i]["text"] for i in range(len(split)))
    for source in (split, raw, folders.manifest_source(tmp_path / "m.tsv")):
        ds = pipeline.make_batches(source, tok, batch_size=2, bucket_boundaries=[16000], seed=0)
        b = next(iter(ds))
        i = int(b["index"][0])
        n = int((b["audio_paddings"][0] == 0).sum())
        expected = audio.normalize(audio.to_float(split[i]["audio"])[None], np.zeros((1, n)))
        np.testing.assert_allclose(b["audio"][0, :n], expected[0], atol=1e-3)
        assert tok.decode(b["labels"][0][b["label_paddings"][0] == 0]) == split[i]["text"]
