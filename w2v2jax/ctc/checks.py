"""Input checks shared by the CTC loss, the alignment and the decoders.

Legend: B batch, T frames, V vocabulary (blank included), U label length.
Shapes and options are checked always, values only when the inputs are concrete (not
tracers), so a bad batch fails here with a message instead of deep inside a jax trace.
"""

import jax
import jax.numpy as jnp
import numpy as np


def check_frames(logits_BxTxV, paddings_BxT, blank_id, name="logits_BxTxV"):
    """Raises ValueError unless logits are [B, T, V], paddings [B, T], 0 <= blank_id < V."""
    shape = tuple(np.shape(logits_BxTxV))
    if len(shape) != 3:
        raise ValueError(
            f"{name} must have shape [B, T, V] (batch, frames, vocabulary); got {shape}. "
            "Add a batch axis with x[None] for a single utterance."
        )
    if tuple(np.shape(paddings_BxT)) != shape[:2]:
        raise ValueError(
            f"paddings must have shape [B, T] = {shape[:2]} to match {name}; got "
            f"{tuple(np.shape(paddings_BxT))}. Pass 1.0 for padded frames, 0.0 for real ones."
        )
    if shape[1] == 0:
        raise ValueError(
            f"{name} has no frames (shape {shape}); audio shorter than one frame cannot be "
            "scored: drop those utterances or pad the audio to at least one frame."
        )
    if not 0 <= blank_id < shape[2]:
        raise ValueError(f"blank_id={blank_id} is outside the vocabulary [0, {shape[2]}).")
    if _is_concrete(paddings_BxT):
        _check_binary(paddings_BxT, "paddings_BxT")


def check_labels(labels_BxU, label_paddings_BxU, logits_shape, blank_id):
    """Raises ValueError for label shapes, ids outside V, blank used as a label, gaps."""
    batch, _, vocab = logits_shape
    shape = tuple(np.shape(labels_BxU))
    if len(shape) != 2 or shape[0] != batch:
        raise ValueError(
            f"labels_BxU must have shape [B, U] with B={batch} as in logits; got {shape}. "
            "Pad every label row to a common length U and mark it in label_paddings_BxU."
        )
    if tuple(np.shape(label_paddings_BxU)) != shape:
        raise ValueError(
            f"label_paddings_BxU must have the shape of labels_BxU {shape}; got "
            f"{tuple(np.shape(label_paddings_BxU))}."
        )
    if not jnp.issubdtype(jnp.result_type(labels_BxU), jnp.integer):
        raise ValueError(
            f"labels_BxU must hold integer token ids; got dtype {jnp.result_type(labels_BxU)}."
        )
    if not _is_concrete(labels_BxU, label_paddings_BxU):
        return
    _check_binary(label_paddings_BxU, "label_paddings_BxU")
    labels_BxU, pads_BxU = np.asarray(labels_BxU), np.asarray(label_paddings_BxU) > 0.5
    if np.any(pads_BxU[:, :-1] & ~pads_BxU[:, 1:]):
        row = int(np.argmax(np.any(pads_BxU[:, :-1] & ~pads_BxU[:, 1:], axis=1)))
        raise ValueError(
            f"label_paddings_BxU row {row} has a label after padding; labels must be "
            "right-padded (all 0.0 first, then all 1.0)."
        )
    real_BxU = ~pads_BxU
    bad = real_BxU & ((labels_BxU < 0) | (labels_BxU >= vocab))
    if np.any(bad):
        b, u = np.argwhere(bad)[0]
        raise ValueError(
            f"labels_BxU[{b}, {u}] = {labels_BxU[b, u]} is outside the vocabulary [0, {vocab}) "
            f"of logits_BxTxV (V={vocab}). Fix the tokenizer or mark it as padding."
        )
    blank = real_BxU & (labels_BxU == blank_id)
    if np.any(blank):
        b, u = np.argwhere(blank)[0]
        raise ValueError(
            f"labels_BxU[{b}, {u}] is the blank id {blank_id}; the blank cannot be a target. "
            "Drop it from the transcript or mark it as padding."
        )


def check_search_args(vocab_size, beam_size, num_best, word_delimiter_id, prune_by):
    """Raises ValueError for beam search options that do not fit each other or V."""
    if prune_by not in ("prefix", "state"):
        raise ValueError(f'prune_by must be "prefix" or "state", got {prune_by!r}.')
    if not 1 <= num_best <= beam_size:
        raise ValueError(f"num_best={num_best} must be between 1 and beam_size={beam_size}.")
    if word_delimiter_id is not None and not 0 <= word_delimiter_id < vocab_size:
        raise ValueError(f"word_delimiter_id={word_delimiter_id} is outside [0, {vocab_size}).")


def _is_concrete(*arrays):
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def _check_binary(paddings, name):
    values = np.asarray(paddings)
    if not np.all((values == 0) | (values == 1)):
        raise ValueError(f"{name} must hold only 0.0 (real) and 1.0 (padding).")
