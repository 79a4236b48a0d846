"""Greedy (best path) decoding against a numpy reference, and the -1 padded id layout.

Legend: B batch, T frames, V vocabulary.
"""

import numpy as np
from ctc_helpers import VOCAB, collapse

from w2v2jax.ctc import greedy_decode, left_align, to_lists


def test_greedy_collapses_repeats_drops_blanks_and_padding():
    best_BxT = np.array([[0, 2, 2, 0, 2, 3, 3, 1, 0], [4, 4, 0, 0, 5, 5, 5, 6, 6]])
    logits = np.eye(len(VOCAB))[best_BxT] * 5.0
    paddings = np.zeros(best_BxT.shape)
    paddings[1, 6:] = 1.0
    ids_BxT = greedy_decode(logits, paddings)
    assert ids_BxT.shape == best_BxT.shape
    assert to_lists(ids_BxT) == [[2, 2, 3, 1], [4, 5]]


def test_greedy_matches_a_numpy_reference_on_random_batches():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 40, 6))
    frames_B = np.array([40, 33, 1, 0, 17])
    paddings = (np.arange(40)[None] >= frames_B[:, None]).astype(np.float32)
    got = to_lists(greedy_decode(logits, paddings, blank_id=2))
    for b in range(5):
        assert got[b] == collapse(np.argmax(logits[b, : frames_B[b]], -1), blank=2)


def test_left_align_keeps_order_over_any_leading_axes():
    ids_BxNxT = np.array([[[-1, 3, -1, 0, 2], [-1, -1, -1, -1, -1]], [[1, -1, 1, -1, 4], [5] * 5]])
    aligned_BxNxT = np.asarray(left_align(ids_BxNxT))
    assert aligned_BxNxT.dtype == np.int32
    np.testing.assert_array_equal(
        aligned_BxNxT,
        [[[3, 0, 2, -1, -1], [-1] * 5], [[1, 1, 4, -1, -1], [5] * 5]],
    )
    assert to_lists(aligned_BxNxT) == [[[3, 0, 2], []], [[1, 1, 4], [5] * 5]]
