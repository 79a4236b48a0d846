"""Input checks of the CTC functions: one clear ValueError per kind of bad input, values
checked only outside a trace.

Legend: B batch, T frames, V vocabulary, U label length.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from w2v2jax.ctc import check_frames, check_labels, check_search_args


def check_batch(logits_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU, blank_id=0):
    """The checks ctc_loss and forced_align run before anything is traced."""
    check_frames(logits_BxTxV, paddings_BxT, blank_id)
    check_labels(labels_BxU, label_paddings_BxU, np.shape(logits_BxTxV), blank_id)


def bad_inputs():
    logits, paddings = np.zeros((2, 5, 4)), np.zeros((2, 5))
    labels, label_paddings = np.array([[1, 2], [3, 0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    return [
        ((logits[0], paddings, labels, label_paddings), "logits_BxTxV must have shape"),
        ((logits, paddings[:, :3], labels, label_paddings), r"paddings must have shape \[B, T\]"),
        ((logits[:, :0], paddings[:, :0], labels, label_paddings), "has no frames"),
        ((logits, paddings, labels[:1], label_paddings), "labels_BxU must have shape"),
        ((logits, paddings, labels, label_paddings[:, :1]), "label_paddings_BxU must have"),
        ((logits, paddings, np.array([[1, 4], [3, 0]]), label_paddings), r"outside the vocab"),
        ((logits, paddings, np.array([[1, 0], [3, 0]]), label_paddings), "is the blank id 0"),
        ((logits, paddings, labels, np.array([[1.0, 0.0], [0, 0]])), "right-padded"),
        ((logits, paddings, labels * 1.0, label_paddings), "integer token ids"),
    ]


@pytest.mark.parametrize("args, message", bad_inputs())
def test_bad_inputs_raise_a_clear_error(args, message):
    with pytest.raises(ValueError, match=message):
        check_batch(*args)


def test_a_good_batch_passes():
    labels, label_paddings = np.array([[1, 2], [3, 0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    check_batch(np.zeros((2, 5, 4)), np.zeros((2, 5)), labels, label_paddings)


def test_frame_checks_name_the_argument_and_the_blank():
    with pytest.raises(ValueError, match="log_probs_BxTxV must have shape"):
        check_frames(np.zeros((5, 4)), np.zeros((5,)), 0, name="log_probs_BxTxV")
    with pytest.raises(ValueError, match=r"blank_id=4 is outside the vocabulary \[0, 4\)"):
        check_frames(np.zeros((1, 5, 4)), np.zeros((1, 5)), 4)


def test_values_are_checked_only_outside_a_trace():
    logits, half_padded = np.zeros((1, 5, 4)), np.full((1, 5), 0.5)
    labels, label_paddings = np.array([[1, 2]]), np.array([[0.0, 0.5]])
    with pytest.raises(ValueError, match="paddings_BxT must hold only 0.0"):
        check_frames(logits, half_padded, 0)
    with pytest.raises(ValueError, match="label_paddings_BxU must hold only 0.0"):
        check_labels(labels, label_paddings, logits.shape, 0)

    @jax.jit
    def traced(paddings_BxT, labels_BxU, label_paddings_BxU):
        check_batch(logits, paddings_BxT, labels_BxU, label_paddings_BxU)
        return jnp.sum(paddings_BxT)

    assert float(traced(half_padded, np.array([[1, 9]]), label_paddings)) == 2.5


SEARCH_ARGS = {"vocab_size": 3, "beam_size": 2, "num_best": 2}
BAD_SEARCH_ARGS = [
    ({"prune_by": "word"}, 'prune_by must be "prefix" or "state"'),
    ({"num_best": 0}, "num_best=0 must be between 1 and beam_size=2"),
    ({"num_best": 3}, "num_best=3 must be between 1 and beam_size=2"),
    ({"word_delimiter_id": -1}, r"word_delimiter_id=-1 is outside \[0, 3\)"),
]


@pytest.mark.parametrize("kwargs, message", BAD_SEARCH_ARGS)
def test_bad_search_arguments_raise_a_clear_error(kwargs, message):
    call = SEARCH_ARGS | {"word_delimiter_id": None, "prune_by": "state"} | kwargs
    with pytest.raises(ValueError, match=message):
        check_search_args(**call)
