"""Forced alignment against exhaustive search and an independent max-product lattice.

Legend: B batch, T frames, V vocabulary, U label length.
"""

import itertools

import jax
import numpy as np
import pytest

from w2v2jax.ctc import forced_align, word_spans


def collapse(path, blank=0):
    return [int(p) for i, p in enumerate(path) if p != blank and (i == 0 or p != path[i - 1])]


def exhaustive_best(log_probs_TxV, labels):
    """The best frame path that collapses to `labels`, by trying all V**T paths."""
    best, best_path = -np.inf, None
    frames, vocab = log_probs_TxV.shape
    for path in itertools.product(range(vocab), repeat=frames):
        if collapse(path) == list(labels):
            score = log_probs_TxV[np.arange(frames), path].sum()
            if score > best:
                best, best_path = score, path
    return best, best_path


def max_product_lattice(log_probs_TxV, labels, blank=0):
    """Viterbi on the textbook extended sequence (blank, l1, blank, ..., blank)."""
    extended = [blank]
    for label in labels:
        extended += [label, blank]
    score = np.full(len(extended), -np.inf)
    score[:2] = log_probs_TxV[0, extended[:2]]
    for log_probs_V in log_probs_TxV[1:]:
        previous = score.copy()
        for s in range(len(extended)):
            best = previous[s]
            if s >= 1:
                best = max(best, previous[s - 1])
            if s >= 2 and extended[s] != blank and extended[s] != extended[s - 2]:
                best = max(best, previous[s - 2])
            score[s] = best + log_probs_V[extended[s]]
    return max(score[-2:]) if labels else score[-1]


def random_batch(seed, count=12, frames=7, num_labels=4, vocab=4):
    """Rows of 3-7 frames and 0-3 labels (repeats likely with V = 4), padded to one shape."""
    rng = np.random.default_rng(seed)
    log_probs = np.asarray(jax.nn.log_softmax(2 * rng.normal(size=(count, frames, vocab)), -1))
    frames_B = rng.integers(3, frames + 1, count)
    lengths_B = rng.integers(0, num_labels, count)
    labels = rng.integers(1, vocab, (count, num_labels)).astype(np.int32)
    paddings = (np.arange(frames)[None] >= frames_B[:, None]).astype(np.float32)
    label_paddings = (np.arange(num_labels)[None] >= lengths_B[:, None]).astype(np.float32)
    return log_probs.astype(np.float32), paddings, labels, label_paddings, frames_B, lengths_B


def test_best_path_equals_exhaustive_search_and_lattice_value():
    log_probs, paddings, labels, label_paddings, frames_B, lengths_B = random_batch(0)
    alignment = forced_align(log_probs, paddings, labels, label_paddings)
    for b, (frames, length) in enumerate(zip(frames_B, lengths_B, strict=True)):
        row = log_probs[b, :frames].astype(np.float64)
        best, best_path = exhaustive_best(row, labels[b, :length])
        lattice = max_product_lattice(row, list(labels[b, :length]))
        np.testing.assert_allclose(alignment.scores_B[b], best, rtol=1e-5)
        np.testing.assert_allclose(lattice, best, rtol=1e-12)
        if best_path is None:
            assert np.all(np.asarray(alignment.path_BxT[b]) == -1)
        else:
            assert list(np.asarray(alignment.path_BxT[b, :frames])) == list(best_path)
            assert np.all(np.asarray(alignment.path_BxT[b, frames:]) == -1)


def test_spans_agree_with_the_path():
    log_probs, paddings, labels, label_paddings, _, lengths_B = random_batch(1)
    alignment = forced_align(log_probs, paddings, labels, label_paddings)
    path, index = np.asarray(alignment.path_BxT), np.asarray(alignment.label_index_BxT)
    starts, ends = np.asarray(alignment.starts_BxU), np.asarray(alignment.ends_BxU)
    for b, length in enumerate(lengths_B):
        if not np.isfinite(alignment.scores_B[b]):
            assert np.all(starts[b] == -1) and np.all(ends[b] == -1)
            continue
        for u in range(labels.shape[1]):
            if u >= length:
                assert starts[b, u] == -1 and ends[b, u] == -1
                continue
            frames = np.flatnonzero(index[b] == u)
            assert (starts[b, u], ends[b, u]) == (frames[0], frames[-1] + 1)
            assert np.all(path[b, frames] == labels[b, u])
        assert collapse(path[b][path[b] >= 0]) == list(labels[b, :length])


def test_infeasible_pair_has_no_path():
    log_probs = np.log(np.full((1, 3, 3), 1 / 3))
    labels = np.array([[1, 1, 2]], np.int32)  # needs 4 frames
    alignment = forced_align(log_probs, np.zeros((1, 3)), labels, np.zeros((1, 3)))
    assert alignment.scores_B[0] == -np.inf
    assert np.all(np.asarray(alignment.path_BxT) == -1)


def test_word_spans_in_seconds():
    # Frames: a a _ b | c c _ , with labels "ab|c" (| = 3), 20 ms frames.
    path = [1, 1, 0, 2, 3, 4, 4, 0]
    log_probs = np.log(np.eye(5)[path] * 0.96 + 0.01)[None]
    labels = np.array([[1, 2, 3, 4]], np.int32)
    alignment = forced_align(log_probs, np.zeros((1, 8)), labels, np.zeros((1, 4)))
    assert list(np.asarray(alignment.path_BxT[0])) == path
    (words,) = word_spans(alignment, labels, word_delimiter_id=3)
    assert [w.ids for w in words] == [(1, 2), (4,)]
    assert [w.start for w in words] == pytest.approx([0.0, 0.1])
    assert [w.end for w in words] == pytest.approx([0.08, 0.14])
    (words,) = word_spans(alignment, labels, word_delimiter_id=3, frame_seconds=0.01)
    assert words[1].end == pytest.approx(0.07)


@pytest.mark.parametrize(
    "labels, message",
    [(np.array([[1, 0]]), "is the blank id 0"), (np.array([[1, 2, 3]]), "label_paddings_BxU")],
)
def test_bad_labels_raise_a_clear_error(labels, message):
    with pytest.raises(ValueError, match=message):
        forced_align(np.zeros((1, 4, 3)), np.zeros((1, 4)), labels, np.zeros((1, 2)))
