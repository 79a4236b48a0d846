"""Forced alignment of one long utterance in bounded memory: a checkpointed Viterbi.

Legend: T frames, V vocabulary, U label length, L frames per segment, S = U + 1.

`forced_align` keeps every frame's choices (T x 2U int8) next to the gathered emissions
(T x U float32): a 60-minute file (T = 180k) with a ~50k-token transcript needs ~74 GB.
Here the frames are cut into segments of L ~ sqrt(T) frames. A first pass runs the
recursion and keeps only the lattice's score rows at segment starts (T / L rows of 2U + 1
floats, on the host); the trace then walks the segments backwards, recomputing each
segment's choices from its stored row (L x 2U int8 at a time). Memory is O(U (T / L + L))
instead of O(T U), for a second forward pass. Both passes use forced_align's own step
functions, so the scores, paths and spans are forced_align's.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc.align import (
    Alignment,
    best_end,
    trace_step,
    viterbi_init,
    viterbi_step,
)
from w2v2jax.ctc.checks import check_frames, check_labels
from w2v2jax.ctc.loss import repeats

MIN_SEGMENT = 256  # frames: short files still share a few compiled shapes


def align_long(log_probs_TxV, labels_U, blank_id=0, segment_frames=None) -> Alignment:
    """forced_align of one utterance ([T, V] log-probs or logits, U label ids) in memory
    O(U sqrt(T)); returns an Alignment with a batch axis of 1, as numpy arrays."""
    log_probs_TxV = np.asarray(log_probs_TxV)
    labels_U = np.asarray(labels_U, np.int32).reshape(-1)
    if log_probs_TxV.ndim != 2:
        raise ValueError(f"log_probs_TxV must have shape [T, V]; got {log_probs_TxV.shape}.")
    frames = log_probs_TxV.shape[0]
    check_frames(log_probs_TxV[None], np.zeros((1, frames)), blank_id, name="log_probs_TxV")
    check_labels(labels_U[None], np.zeros((1, len(labels_U))), (1, *log_probs_TxV.shape), blank_id)
    length = len(labels_U)
    seg = segment_frames or segment_length(frames)
    num_segments = math.ceil(frames / seg)
    # Padded label states lie after the real ones, so they never feed into them; a few
    # padded lengths mean a few compilations for transcripts of every length.
    labels_1xU = np.zeros((1, padded_length(length)), np.int32)
    labels_1xU[0, :length] = labels_U
    labels_1xU = jnp.asarray(labels_1xU)

    def segment(k):
        """Frames of segment k, the last padded with frames marked invalid (skipped)."""
        piece = log_probs_TxV[k * seg : (k + 1) * seg]
        lp_LxV = np.zeros((seg, piece.shape[1]), piece.dtype)
        lp_LxV[: len(piece)] = piece
        return jnp.asarray(lp_LxV), jnp.asarray(np.arange(seg) < len(piece))

    carry = viterbi_init(1, labels_1xU.shape[1], _dtype(log_probs_TxV))
    rows = []  # the score rows at each segment's start, kept on the host
    for k in range(num_segments):
        rows.append(jax.device_get(carry))
        carry = _forward(carry, *segment(k), labels_1xU, blank_id)
    score, state = best_end(carry, jnp.asarray([length], jnp.int32))
    label_index_T = np.full(num_segments * seg, -1, np.int32)
    if np.isfinite(float(score[0])):
        for k in reversed(range(num_segments)):
            state, index_L = _trace_segment(rows[k], state, *segment(k), labels_1xU, blank_id)
            label_index_T[k * seg : (k + 1) * seg] = np.asarray(index_L)
    return _alignment(label_index_T[:frames], labels_U, blank_id, float(score[0]))


def segment_length(frames: int) -> int:
    """A power of two near sqrt(T): the stored rows (T / L) and one segment's choices (L)
    then cost about the same, and few distinct L mean few compilations."""
    return max(MIN_SEGMENT, 1 << math.ceil(math.log2(max(math.sqrt(frames), 1))))


def padded_length(length: int) -> int:
    """U rounded up by at most an eighth (at least 64): extra states cost compute only."""
    step = max(64, 1 << max(length.bit_length() - 3, 0))
    return max(step, -(-length // step) * step)


def _dtype(log_probs):
    return jnp.promote_types(log_probs.dtype, jnp.float32)


def _frames(lp_LxV, valid_L, labels_1xU, blank_id):
    """The scan inputs of one segment, as forced_align builds them (log_softmax inside)."""
    lp_LxV = jax.nn.log_softmax(lp_LxV.astype(_dtype(lp_LxV)), axis=-1)
    emit_Lx1xU = jnp.take_along_axis(lp_LxV, labels_1xU, axis=1)[:, None, :]
    return lp_LxV[:, blank_id, None], emit_Lx1xU, valid_L[:, None]


@functools.partial(jax.jit, static_argnums=4)
def _forward(carry, lp_LxV, valid_L, labels_1xU, blank_id):
    step = functools.partial(viterbi_step, repeats(labels_1xU))
    # Only the carry leaves the scan: the choices are dropped, not stacked.
    carry, _ = jax.lax.scan(
        lambda c, f: (step(c, f)[0], None), carry, _frames(lp_LxV, valid_L, labels_1xU, blank_id)
    )
    return carry


@functools.partial(jax.jit, static_argnums=5)
def _trace_segment(row, state, lp_LxV, valid_L, labels_1xU, blank_id):
    """Recomputes the segment's choices from its first row, then traces it backwards."""
    step = functools.partial(viterbi_step, repeats(labels_1xU))
    frames = _frames(lp_LxV, valid_L, labels_1xU, blank_id)
    _, choices = jax.lax.scan(step, row, frames)
    state, index_Lx1 = jax.lax.scan(trace_step, state, (*choices, frames[2]), reverse=True)
    return state, index_Lx1[:, 0]


def _alignment(label_index_T, labels_U, blank_id, score):
    """forced_align's outputs from the frames' label positions (numpy, batch axis of 1)."""
    safe_U = np.append(labels_U, blank_id)  # U = 0: every frame is blank
    path_T = np.where(label_index_T >= 0, safe_U[np.maximum(label_index_T, 0)], blank_id)
    starts_U = np.full(len(labels_U), -1, np.int32)
    ends_U = np.full(len(labels_U), -1, np.int32)
    if not np.isfinite(score):
        path_T = np.full_like(label_index_T, -1)
    else:
        # Label positions never decrease along the path: each label's frames are one run.
        frames_N = np.flatnonzero(label_index_T >= 0)
        positions_N = label_index_T[frames_N]
        first = np.searchsorted(positions_N, np.arange(len(labels_U)), side="left")
        last = np.searchsorted(positions_N, np.arange(len(labels_U)), side="right") - 1
        starts_U, ends_U = frames_N[first].astype(np.int32), frames_N[last].astype(np.int32) + 1
    return Alignment(
        path_T[None].astype(np.int32),
        label_index_T[None],
        starts_U[None],
        ends_U[None],
        np.asarray([score], np.float32),
    )
