"""The jitted prefix beam search against pyctcdecode and brute force; the argument checks.

Legend: B batch, T frames, V vocabulary, N hypotheses.
"""

import itertools
import logging

import jax
import numpy as np
import pytest
from ctc_helpers import PEAKS, VOCAB, collapse, comparison_batch, log_softmax, text
from pyctcdecode import build_ctcdecoder

from w2v2jax.ctc import prefix_beam_search, to_lists

logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # it warns that kenlm is absent


@pytest.mark.parametrize("beam_size", [4, 8])
def test_beam_search_matches_pyctcdecode_on_peaked_and_soft_posteriors(beam_size):
    log_probs_BxTxV = comparison_batch()
    decoder = build_ctcdecoder(VOCAB)
    ids, scores = prefix_beam_search(
        log_probs_BxTxV,
        np.zeros(log_probs_BxTxV.shape[:2]),
        beam_size=beam_size,
        word_delimiter_id=1,
    )
    for b, hypotheses in enumerate(to_lists(ids)):
        # No pruning on their side: same beam width, every token considered.
        beams = decoder.decode_beams(
            log_probs_BxTxV[b], beam_width=beam_size, beam_prune_logp=-1e9, token_min_logp=-1e9
        )
        assert text(hypotheses[0]) == beams[0][0], f"row {b} (peak {PEAKS[b]})"
        np.testing.assert_allclose(scores[b, 0], beams[0][3], rtol=1e-5)


def brute_force_best(log_probs_TxV, blank=0):
    """The label sequence with the highest CTC probability, by enumerating every path."""
    totals = {}
    for path in itertools.product(range(log_probs_TxV.shape[1]), repeat=len(log_probs_TxV)):
        labels = tuple(collapse(path, blank))
        score = log_probs_TxV[np.arange(len(path)), path].sum()
        totals[labels] = np.logaddexp(totals.get(labels, -np.inf), score)
    return max(totals.items(), key=lambda item: item[1])


@pytest.mark.parametrize("prune_by", ["prefix", "state"])
def test_a_beam_wide_enough_is_exact(prune_by):
    rng = np.random.default_rng(1)
    log_probs_BxTxV = np.stack([log_softmax(rng.normal(size=(6, 3))) for _ in range(4)])
    ids, scores = prefix_beam_search(
        log_probs_BxTxV.astype(np.float32),
        np.zeros((4, 6)),
        beam_size=128,
        num_best=1,
        prune_by=prune_by,
    )
    for b in range(4):
        labels, score = brute_force_best(log_probs_BxTxV[b])
        assert tuple(to_lists(ids)[b][0]) == labels
        np.testing.assert_allclose(scores[b, 0], score, rtol=1e-5)


def test_padded_frames_are_ignored():
    log_probs = comparison_batch()
    paddings = np.zeros(log_probs.shape[:2])
    paddings[4, 18:] = 1.0  # a soft row, cut to 18 frames
    ids, scores = prefix_beam_search(log_probs, paddings, beam_size=4, word_delimiter_id=1)
    trimmed = build_ctcdecoder(VOCAB).decode_beams(
        log_probs[4, :18], beam_width=4, beam_prune_logp=-1e9, token_min_logp=-1e9
    )
    assert text(to_lists(ids)[4][0]) == trimmed[0][0]
    np.testing.assert_allclose(scores[4, 0], trimmed[0][3], rtol=1e-5)


def test_the_search_is_jittable():
    log_probs = comparison_batch()
    paddings = np.zeros(log_probs.shape[:2])

    @jax.jit
    def decode(x):
        return prefix_beam_search(x, paddings, beam_size=4, word_delimiter_id=1)

    jitted_ids, _ = decode(log_probs)
    ids, _ = prefix_beam_search(log_probs, paddings, beam_size=4, word_delimiter_id=1)
    assert to_lists(jitted_ids) == to_lists(ids)


BAD_CALLS = [
    ({"log_probs_BxTxV": np.zeros((4, 3))}, "log_probs_BxTxV must have shape"),
    ({"beam_size": 2, "num_best": 3}, "num_best=3"),
    ({"prune_by": "word"}, "prune_by"),
    ({"word_delimiter_id": 3}, "word_delimiter_id=3"),
    ({"hotwords": ["a"]}, "vocab must list the 3 token strings"),
    ({"lm": "x.arpa", "vocab": ["", "a", "b"]}, "word_delimiter_id"),
]


@pytest.mark.parametrize("kwargs, message", BAD_CALLS)
def test_bad_arguments_raise_a_clear_error(kwargs, message):
    call = {"log_probs_BxTxV": np.zeros((1, 4, 3)), "paddings_BxT": np.zeros((1, 4))}
    with pytest.raises(ValueError, match=message):
        prefix_beam_search(**(call | {"beam_size": 2} | kwargs))
