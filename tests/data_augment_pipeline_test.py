"""Augmentation in the training pipeline: seeded, resumed exactly (grain state, orbax; a
training run killed with SIGKILL: train_resume_test.py), lengths kept within their buckets
(issue 16).

Shape legend: B batch rows, S samples.
"""

import grain
import numpy as np
import orbax.checkpoint as ocp
import pytest
from train_helpers import micro_config

from w2v2jax.data import Augmenter, augment, bucketing, pipeline, texts
from w2v2jax.data.tokenizer import CharTokenizer

BOUNDARIES = [8000, 16000, 24000]
ALL_ON = {  # every augmentation half the time; 2 short rooms keep the bank quick to build
    **{name: 0.5 for name in augment.PROBS},
    "num_rooms": 2,
    "rt60_s": (0.2, 0.4),
}


def _source(n=48, seed=0):
    """Noise utterances of 0.5-1.5 s with 1-3 digit words (always feasible), some right at
    their bucket's top so a 0.9x speed would overflow it."""
    rng = np.random.default_rng(seed)
    lengths = list(rng.integers(8000, 24000, size=n - 6)) + [8000, 16000, 24000] * 2
    out = []
    for num in lengths:
        words = rng.integers(0, 10, size=1 + (num > 12000) + (num > 18000))
        audio_S = (rng.standard_normal(num) * 3000).astype(np.int16)
        out.append({"audio": audio_S, "text": " ".join(texts.DIGITS[j] for j in words)})
    return out


@pytest.fixture(scope="module")
def data():
    src = _source()
    return src, CharTokenizer.from_texts(e["text"] for e in src)


def _make(data, augment_cfg=ALL_ON, **kw):
    src, tok = data
    kw = {"batch_size": 4, "bucket_boundaries": BOUNDARIES, "seed": 3, **kw}
    aug = None if augment_cfg is None else Augmenter(augment_cfg, seed=kw["seed"])
    return pipeline.make_batches(src, tok, augment=aug, **kw)


def _take(it, n):
    return [next(it) for _ in range(n)]


def _same(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_augmented_batches_keep_their_shapes_rows_and_labels(data):
    stats = pipeline.Stats()
    plain = _take(iter(_make(data, None)), 12)
    augmented = _take(iter(_make(data, stats=stats)), 12)
    lengths_changed = audio_changed = 0
    for a, b in zip(plain, augmented, strict=True):
        assert a["audio"].shape == b["audio"].shape and b["valid"].all()
        for k in ("index", "labels", "label_paddings"):
            np.testing.assert_array_equal(a[k], b[k])
        valid_B = (1 - b["audio_paddings"]).sum(axis=1)
        assert np.all(valid_B <= b["audio"].shape[1])  # never past the bucket
        lengths_changed += int(np.sum(valid_B != (1 - a["audio_paddings"]).sum(axis=1)))
        audio_changed += int(np.sum(np.any(a["audio"] != b["audio"], axis=1)))
        for r in range(4):  # normalized as ever over the valid samples
            row = b["audio"][r, : int(valid_B[r])]
            assert abs(row.mean()) < 1e-3 and abs(row.std() - 1) < 1e-2
    assert not stats.counts  # augmentation left out no row
    assert lengths_changed > 5 and audio_changed > 30  # of 48 rows


def test_speed_is_drawn_among_the_factors_that_fit_the_bucket(data):
    src, _ = data
    ds = _make(data, {"speed_prob": 1.0, "speed_factors": (0.9,)}, num_epochs=3)
    tops = set(BOUNDARIES)
    slowed = kept_at_top = 0
    for b in ds:
        for r in range(4):
            n_in = len(src[b["index"][r]]["audio"])
            n_out = int((1 - b["audio_paddings"][r]).sum())
            if n_in in tops:  # 0.9 would not fit: left as it is
                assert n_out == n_in
                kept_at_top += 1
            elif n_out != n_in:
                assert n_out == augment.speed_length(n_in, 0.9) <= b["audio"].shape[1]
                slowed += 1
    assert kept_at_top >= 6 and slowed > 60


def test_deterministic_for_a_seed_and_fresh_each_epoch(data):
    a, b = _take(iter(_make(data)), 6), _take(iter(_make(data)), 6)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    other = _take(iter(_make(data, seed=4)), 6)
    assert not all(_same(x, y) for x, y in zip(a, other, strict=True))
    # The same utterance in two epochs: augmented differently.
    src, _ = data
    per_epoch = bucketing.batches_per_epoch(
        bucketing.source_lengths(src), batch_size=4, bucket_boundaries=BOUNDARIES
    )
    epochs = _take(iter(_make(data, {"gain_prob": 1.0, "gain_db": (-40.0, 40.0)})), 2 * per_epoch)
    rows = {}
    for b in epochs:
        for r, i in enumerate(b["index"]):
            rows.setdefault(int(i), []).append(b["audio"][r].tobytes())
    assert sum(len(set(v)) == 2 for v in rows.values() if len(v) == 2) > 10


def test_resume_from_saved_state_gives_the_same_augmented_batches(data):
    ds = _make(data)
    it = iter(ds)
    _take(it, 14)  # into the second epoch
    state = it.get_state()
    expected = _take(it, 5)
    resumed = iter(_make(data))  # as after a restart: a new pipeline and a new Augmenter
    resumed.set_state(state)
    assert all(_same(a, b) for a, b in zip(expected, _take(resumed, 5), strict=True))


def test_augmented_iterator_state_round_trips_through_orbax(data, tmp_path):
    it = iter(_make(data))
    _take(it, 5)
    with ocp.CheckpointManager(tmp_path / "ckpt") as mngr:
        mngr.save(5, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(it)))
        mngr.wait_until_finished()
        expected = _take(it, 3)
        resumed = iter(_make(data))
        mngr.restore(5, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(resumed)))
    assert all(_same(a, b) for a, b in zip(expected, _take(resumed, 3), strict=True))


def test_shards_augment_their_rows_as_the_whole_batch_does(data):
    whole = _take(iter(_make(data, batch_size=4)), 4)
    halves = [
        _take(iter(_make(data, batch_size=2, shard_index=i, shard_count=2)), 4) for i in range(2)
    ]
    for j, b in enumerate(whole):
        got = np.concatenate([halves[0][j]["audio"], halves[1][j]["audio"]])
        np.testing.assert_array_equal(got, b["audio"])


def test_the_run_passes_its_augmenter_to_training_batches_only(tiny_corpus):
    from w2v2jax.train import assemble, objectives

    c = micro_config(tiny_corpus, **{"augment.gain_prob": 1.0, "augment.gain_db": (30.0, 30.0)})
    run = assemble(c, objectives.build(c))
    assert isinstance(run.pipeline_args()["augment"], Augmenter)
    plain = assemble(micro_config(tiny_corpus), objectives.build(micro_config(tiny_corpus)))
    assert "augment" not in plain.pipeline_args()  # off: objectives see the same args as ever
    src = _source(16)
    lengths = bucketing.source_lengths(src)
    train = next(iter(run.train_batches(src, lengths, pipeline.Stats())))
    clean = next(iter(plain.train_batches(src, lengths, pipeline.Stats())))
    assert not np.array_equal(train["audio"], clean["audio"])  # +30 dB clips
    ev = run.objective.batches(src, train=False, stats=pipeline.Stats(), **run.pipeline_args())
    ev_plain = plain.objective.batches(
        src, train=False, stats=pipeline.Stats(), **plain.pipeline_args()
    )
    assert _same(next(iter(ev)), next(iter(ev_plain)))
