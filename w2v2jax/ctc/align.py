"""CTC forced alignment: batched Viterbi on the loss's split blank/label lattice, jitted.

Legend: B batch, T frames, V vocabulary, U label length, S = U + 1 blank states.
The max-product recursion mirrors loss._alpha_step with max for logaddexp; each frame
keeps which predecessor won, and a reverse scan follows those choices from the better end
state. Padded frames are skipped (path -1); infeasible pairs get score -inf and path -1.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc.checks import check_frames, check_labels
from w2v2jax.ctc.loss import repeats
from w2v2jax.frames import frame_seconds

STANDARD_FRAME_SECONDS = frame_seconds()  # 0.02: wav2vec2's 320-sample hop at 16 kHz

# Which predecessor a state came from.
_STAY, _FROM_BLANK, _FROM_LABEL = 0, 1, 2


class Alignment(NamedTuple):
    path_BxT: jax.Array  # token per frame: a label id, blank_id, or -1 on padded frames
    label_index_BxT: jax.Array  # position u in labels_BxU of the frame's label, else -1
    starts_BxU: jax.Array  # first frame of each label, -1 for padded labels
    ends_BxU: jax.Array  # one past its last frame, -1 for padded labels
    scores_B: jax.Array  # log-probability of the best path, -inf if infeasible


class WordSpan(NamedTuple):
    ids: tuple  # the word's label ids
    start: float  # seconds
    end: float  # seconds


def forced_align(log_probs_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU, blank_id=0):
    """The most likely alignment of each label sequence (log_softmax is applied inside)."""
    check_frames(log_probs_BxTxV, paddings_BxT, blank_id, name="log_probs_BxTxV")
    check_labels(labels_BxU, label_paddings_BxU, np.shape(log_probs_BxTxV), blank_id)
    return _align(log_probs_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU, blank_id)


@functools.partial(jax.jit, static_argnums=4)
def _align(log_probs_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU, blank_id):
    dtype = jnp.promote_types(log_probs_BxTxV.dtype, jnp.float32)
    log_probs_BxTxV = jax.nn.log_softmax(log_probs_BxTxV.astype(dtype), axis=-1)
    label_valid_BxU = label_paddings_BxU < 0.5
    labels_BxU = jnp.where(label_valid_BxU, labels_BxU, 0).astype(jnp.int32)
    lengths_B = jnp.sum(label_valid_BxU, axis=1).astype(jnp.int32)
    repeat_BxU = repeats(labels_BxU)
    emit_TxBxU = jnp.transpose(
        jnp.take_along_axis(log_probs_BxTxV, labels_BxU[:, None], 2), (1, 0, 2)
    )
    blank_TxB = jnp.transpose(log_probs_BxTxV[:, :, blank_id])
    valid_TxB = jnp.transpose(paddings_BxT) < 0.5
    final, choices = _viterbi(blank_TxB, emit_TxBxU, valid_TxB, repeat_BxU)
    scores_B, start = best_end(final, lengths_B)
    label_index_TxB = _trace(choices, valid_TxB, start)
    feasible_B = scores_B > -jnp.inf
    label_index_BxT = jnp.where(feasible_B[:, None], jnp.transpose(label_index_TxB), -2)
    path_BxT = jnp.where(
        label_index_BxT >= 0,
        jnp.take_along_axis(labels_BxU, jnp.maximum(label_index_BxT, 0), axis=1),
        jnp.where(label_index_BxT == -1, blank_id, -1),
    )
    label_index_BxT = jnp.maximum(label_index_BxT, -1)
    starts_BxU, ends_BxU = _spans(label_index_BxT, labels_BxU.shape[1])
    return Alignment(path_BxT, label_index_BxT, starts_BxU, ends_BxU, scores_B)


def best_end(final, lengths_B):
    """The best path's score and the state its trace starts from: after the last label or
    the blank that follows it."""
    end_blank_B = jnp.take_along_axis(final[0], lengths_B[:, None], axis=1)[:, 0]
    last_B = jnp.take_along_axis(final[1], jnp.maximum(lengths_B - 1, 0)[:, None], axis=1)[:, 0]
    last_B = jnp.where(lengths_B > 0, last_B, -jnp.inf)
    on_blank_B = last_B <= end_blank_B
    return jnp.maximum(end_blank_B, last_B), (
        on_blank_B,
        jnp.where(on_blank_B, lengths_B, lengths_B - 1),
    )


def _viterbi(blank_TxB, emit_TxBxU, valid_TxB, repeat_BxU):
    """Max-product forward pass; returns the final scores and each frame's choices."""
    return jax.lax.scan(
        functools.partial(viterbi_step, repeat_BxU),
        viterbi_init(*repeat_BxU.shape, emit_TxBxU.dtype),
        (blank_TxB, emit_TxBxU, valid_TxB),
    )


def viterbi_init(batch, num_labels, dtype):
    """(blank states [B, U + 1], label states [B, U]) before the first frame."""
    return (
        jnp.full((batch, num_labels + 1), -jnp.inf, dtype).at[:, 0].set(0.0),
        jnp.full((batch, num_labels), -jnp.inf, dtype),
    )


def viterbi_step(repeat_BxU, carry, frame):
    """One frame of the max-product recursion: (new carry, the frame's int8 choices).
    Shared with align_long, so both aligners make the same choices bit for bit."""
    blank_BxS, label_BxU = carry
    blank_B, emit_BxU, valid_B = frame
    shifted_BxS = jnp.pad(label_BxU, ((0, 0), (1, 0)), constant_values=-jnp.inf)
    blank_from_label_BxS = shifted_BxS > blank_BxS
    into_blank_BxS = jnp.maximum(blank_BxS, shifted_BxS)
    # A repeated label can only be entered from the blank before it.
    skip_BxU = jnp.where(repeat_BxU, -jnp.inf, shifted_BxS[:, :-1])
    enter_BxU = jnp.maximum(blank_BxS[:, :-1], skip_BxU)
    enter_choice_BxU = jnp.where(skip_BxU > blank_BxS[:, :-1], _FROM_LABEL, _FROM_BLANK)
    label_choice_BxU = jnp.where(enter_BxU > label_BxU, enter_choice_BxU, _STAY)
    new = (
        into_blank_BxS + blank_B[:, None],
        jnp.maximum(label_BxU, enter_BxU) + emit_BxU,
    )
    new = tuple(jnp.where(valid_B[:, None], n, c) for n, c in zip(new, carry, strict=True))
    choices = (blank_from_label_BxS.astype(jnp.int8), label_choice_BxU.astype(jnp.int8))
    return new, choices


def _trace(choices, valid_TxB, start):
    """Reverse scan over the choices: the label position of each frame, -1 for blank."""
    _, label_index_TxB = jax.lax.scan(trace_step, start, (*choices, valid_TxB), reverse=True)
    return label_index_TxB


def trace_step(state, frame):
    """One frame of the trace, backwards: state (on a blank?, label position) -> the frame's
    label position (-1 blank, -2 padded frame) and the state one frame earlier."""
    on_blank_B, index_B = state
    blank_choice_BxS, label_choice_BxU, valid_B = frame
    came_from_label_B = jnp.take_along_axis(blank_choice_BxS, index_B[:, None], 1)[:, 0] == 1
    safe_B = jnp.clip(index_B, 0, label_choice_BxU.shape[1] - 1)
    label_choice_B = jnp.take_along_axis(label_choice_BxU, safe_B[:, None], axis=1)[:, 0]
    frame_label_B = jnp.where(valid_B, jnp.where(on_blank_B, -1, index_B), -2)
    next_on_blank_B = jnp.where(on_blank_B, ~came_from_label_B, label_choice_B == _FROM_BLANK)
    step_back_B = jnp.where(on_blank_B, came_from_label_B, label_choice_B == _FROM_LABEL)
    moved = (next_on_blank_B, index_B - step_back_B.astype(index_B.dtype))
    state = tuple(jnp.where(valid_B, m, s) for m, s in zip(moved, state, strict=True))
    return state, frame_label_B


def _spans(label_index_BxT, num_labels):
    batch, frames = label_index_BxT.shape
    rows_BxT = jnp.broadcast_to(jnp.arange(batch)[:, None], (batch, frames))
    frame_BxT = jnp.broadcast_to(jnp.arange(frames)[None], (batch, frames))
    target_BxT = jnp.where(label_index_BxT >= 0, label_index_BxT, num_labels)  # dropped
    starts_BxU = jnp.full((batch, num_labels), frames, jnp.int32)
    starts_BxU = starts_BxU.at[rows_BxT, target_BxT].min(frame_BxT, mode="drop")
    ends_BxU = jnp.full((batch, num_labels), -1, jnp.int32)
    ends_BxU = ends_BxU.at[rows_BxT, target_BxT].max(frame_BxT + 1, mode="drop")
    return jnp.where(ends_BxU < 0, -1, starts_BxU), ends_BxU


def word_spans(alignment, labels_BxU, word_delimiter_id, frame_seconds=STANDARD_FRAME_SECONDS):
    """Words (runs of labels between delimiters) with start and end in seconds, per row."""
    starts_BxU, ends_BxU = np.asarray(alignment.starts_BxU), np.asarray(alignment.ends_BxU)
    labels_BxU = np.asarray(labels_BxU)
    rows = []
    for labels_U, starts_U, ends_U in zip(labels_BxU, starts_BxU, ends_BxU, strict=True):
        words, current = [], []
        for u in range(len(labels_U) + 1):
            aligned = u < len(labels_U) and ends_U[u] >= 0
            if aligned and labels_U[u] != word_delimiter_id:
                current.append(u)
            elif current:
                ids = tuple(int(labels_U[i]) for i in current)
                start, end = starts_U[current[0]], ends_U[current[-1]]
                words.append(
                    WordSpan(ids, float(start * frame_seconds), float(end * frame_seconds))
                )
                current = []
        rows.append(words)
    return rows
