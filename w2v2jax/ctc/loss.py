"""CTC loss: log-space forward algorithm on a split blank/label lattice, custom VJP.

Legend: B batch, T frames, V vocabulary (blank included), U label length, S = U + 1 blank
states. Paddings, not lengths: 1.0 marks a padded frame or label (as `optax.ctc_loss`).

Lattice: blank state s sits before label s (s = 0..U), label state u emits label u. Per
frame, with `x = logaddexp(blank[s], label[s - 1])`:
    blank[s] <- x + log p(blank)
    label[u] <- logaddexp(label[u], repeat[u] ? blank[u] : x[u]) + log p(label u)
so two logaddexp per label per frame; a repeated label must pass through the blank.
Emissions are gathered per frame inside the scan (no one-hot, no [T, B, U] copy), padded
frames leave the state unchanged, and nothing of size B*T*U*V exists.

Gradient (custom VJP, chosen by measurement over autodiff and over a beta recursion): the
forward pass keeps the state each frame started from; the backward pass walks the frames
in reverse carrying each state's occupancy, which is d log p / d state. Occupancies live
in [0, 1] in linear space, each logaddexp hands them back with weights exp(in - out) that
sum to one (one exp per logaddexp, no log), and the occupancy of label u at frame t is
d log p / d log p_t(label u). Scattering them into V per frame gives the logits gradient
softmax - occupancy, written row by row into the output.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc.checks import check_frames, check_labels

_LOG_ZERO = -1e30  # finite log 0: see _logaddexp


def ctc_loss(
    logits_BxTxV,
    logit_paddings_BxT,
    labels_BxU,
    label_paddings_BxU,
    *,
    blank_id=0,
    zero_infinity=False,
):
    """Per-sequence CTC negative log-likelihood, a drop-in for `optax.ctc_loss`.

    Args:
      logits_BxTxV: [B, T, V] unnormalised scores (log_softmax is applied inside).
      logit_paddings_BxT: [B, T], 1.0 marks padded frames.
      labels_BxU: [B, U] integer targets, right-padded.
      label_paddings_BxU: [B, U], 1.0 marks padded labels.
      blank_id: index of the blank token in V.
      zero_infinity: infeasible pairs (labels that cannot fit the frames) give 0 instead of
        +inf. Their gradient is zero (finite) either way.

    Returns:
      loss_B: [B] float32 (float64 for float64 logits), never negative.
    """
    check_frames(logits_BxTxV, logit_paddings_BxT, blank_id)
    check_labels(labels_BxU, label_paddings_BxU, np.shape(logits_BxTxV), blank_id)
    return _ctc_loss_jit(
        logits_BxTxV, logit_paddings_BxT, labels_BxU, label_paddings_BxU, blank_id, zero_infinity
    )


def ctc_loss_reduced(
    logits_BxTxV,
    logit_paddings_BxT,
    labels_BxU,
    label_paddings_BxU,
    *,
    blank_id=0,
    zero_infinity=False,
    reduction="mean",
):
    """Batch CTC loss reduced as torch does: "mean" divides by target lengths, then averages."""
    loss_B = ctc_loss(
        logits_BxTxV,
        logit_paddings_BxT,
        labels_BxU,
        label_paddings_BxU,
        blank_id=blank_id,
        zero_infinity=zero_infinity,
    )
    if reduction == "sum":
        return jnp.sum(loss_B)
    if reduction == "mean":
        label_lengths_B = jnp.sum(1.0 - label_paddings_BxU, axis=1)
        return jnp.mean(loss_B / jnp.maximum(label_lengths_B, 1.0).astype(loss_B.dtype))
    raise ValueError(f'reduction must be "mean" or "sum", got {reduction!r}.')


@functools.partial(jax.jit, static_argnums=(4, 5))
def _ctc_loss_jit(logits, logit_paddings, labels, label_paddings, blank_id, zero_infinity):
    return _ctc_loss_vjp(logits, logit_paddings, labels, label_paddings, blank_id, zero_infinity)


def _compute_dtype(dtype):
    # bf16/f16 logits accumulate in float32; float64 stays float64 (for exact tests).
    return jnp.promote_types(dtype, jnp.float32)


def _setup(logits_BxTxV, logit_paddings_BxT, labels_BxU, label_paddings_BxU):
    """Per-frame normalisers and label bookkeeping; log-probs are made frame by frame."""
    dtype = _compute_dtype(logits_BxTxV.dtype)
    lse_TxB = jnp.transpose(jax.nn.logsumexp(logits_BxTxV.astype(dtype), axis=-1))
    valid_TxB = jnp.transpose(logit_paddings_BxT) < 0.5
    label_valid_BxU = label_paddings_BxU < 0.5
    # Padded labels may hold anything (-1, V, ...): point them at a real row.
    labels_BxU = jnp.where(label_valid_BxU, labels_BxU, 0).astype(jnp.int32)
    lengths_B = jnp.sum(label_valid_BxU, axis=1).astype(jnp.int32)
    return lse_TxB, valid_TxB, labels_BxU, lengths_B, repeats(labels_BxU)


def repeats(labels_BxU):
    """True where a label equals the one before it (those need a blank in between)."""
    first_Bx1 = jnp.zeros_like(labels_BxU[:, :1], dtype=bool)  # [B, 0] when U = 0
    return jnp.concatenate([first_Bx1, labels_BxU[:, 1:] == labels_BxU[:, :-1]], axis=1)


def _frame(logits_BxTxV, t, lse_B, labels_BxU, blank_id):
    """Log-probs of frame t, its blank and label emissions (gathered, not one-hot)."""
    logits_BxV = jax.lax.dynamic_index_in_dim(logits_BxTxV, t, axis=1, keepdims=False)
    logprobs_BxV = logits_BxV.astype(lse_B.dtype) - lse_B[:, None]
    emit_BxU = jnp.take_along_axis(logprobs_BxV, labels_BxU, axis=1, mode="promise_in_bounds")
    # -inf logits would make max/min arithmetic produce NaN: floor at the finite log 0.
    emit_BxU = jnp.maximum(emit_BxU, _LOG_ZERO)
    blank_B = jnp.maximum(logprobs_BxV[:, blank_id], _LOG_ZERO)
    return logprobs_BxV, blank_B, emit_BxU


def _logaddexp(a, b):
    if a.dtype == jnp.float64:
        return jnp.logaddexp(a, b)
    # float32: log(1 + e) is ~25% faster than log1p here; what it drops (e < 2**-24) is
    # below float32 resolution. Finite log 0 keeps min - max free of NaN.
    high = jnp.maximum(a, b)
    return high + jnp.log(1.0 + jnp.exp(jnp.minimum(a, b) - high))


def _alpha_step(blank_BxS, label_BxU, blank_B, emit_BxU, repeat_BxU):
    zero_Bx1 = jnp.full_like(blank_BxS[:, :1], _LOG_ZERO)
    into_blank_BxS = _logaddexp(blank_BxS, jnp.concatenate([zero_Bx1, label_BxU], axis=1))
    into_label_BxU = jnp.where(repeat_BxU, blank_BxS[:, :-1], into_blank_BxS[:, :-1])
    new_label_BxU = _logaddexp(label_BxU, into_label_BxU) + emit_BxU
    return into_blank_BxS + blank_B[:, None], new_label_BxU


def _one_hot_states(position_B, num_states, dtype):
    states_S = jnp.arange(num_states)
    return jnp.where(states_S[None] == position_B[:, None], 0.0, _LOG_ZERO).astype(dtype)


def _alpha(logits_BxTxV, lse_TxB, valid_TxB, labels_BxU, repeat_BxU, blank_id, keep):
    """Forward variables; padded frames leave the state unchanged."""
    batch, num_labels = labels_BxU.shape
    dtype = lse_TxB.dtype
    init = (
        _one_hot_states(jnp.zeros(batch, jnp.int32), num_labels + 1, dtype),
        jnp.full((batch, num_labels), _LOG_ZERO, dtype),
    )

    def step(carry, frame):
        t, lse_B, valid_B = frame
        _, blank_B, emit_BxU = _frame(logits_BxTxV, t, lse_B, labels_BxU, blank_id)
        new = _alpha_step(*carry, blank_B, emit_BxU, repeat_BxU)
        new = tuple(jnp.where(valid_B[:, None], n, c) for n, c in zip(new, carry, strict=True))
        # The backward pass reads the state each frame started from.
        return new, (carry if keep else None)

    frames = (jnp.arange(lse_TxB.shape[0]), lse_TxB, valid_TxB)
    return jax.lax.scan(step, init, frames)


def _log_likelihood(final_blank_BxS, final_label_BxU, lengths_B):
    end_blank_B = jnp.take_along_axis(final_blank_BxS, lengths_B[:, None], axis=1)[:, 0]
    last_B = jnp.take_along_axis(final_label_BxU, jnp.maximum(lengths_B - 1, 0)[:, None], 1)
    last_B = jnp.where(lengths_B > 0, last_B[:, 0], _LOG_ZERO)
    ll_B = _logaddexp(end_blank_B, last_B)
    # Only an unreachable end state sits near the finite log 0: that pair is infeasible.
    return jnp.where(ll_B < 0.5 * _LOG_ZERO, -jnp.inf, ll_B)


def _finish(log_likelihood_B, zero_infinity):
    # Rounding can push a near-certain sequence a hair above log 1: the loss stays >= 0.
    loss_B = jnp.maximum(-log_likelihood_B, 0.0)
    if zero_infinity:
        loss_B = jnp.where(loss_B == jnp.inf, 0.0, loss_B)
    return loss_B


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _ctc_loss_vjp(logits, logit_paddings, labels, label_paddings, blank_id, zero_infinity):
    lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU = _setup(
        logits, logit_paddings, labels, label_paddings
    )
    final, _ = _alpha(logits, lse_TxB, valid_TxB, labels_BxU, repeat_BxU, blank_id, False)
    return _finish(_log_likelihood(*final, lengths_B), zero_infinity)


def _ctc_loss_fwd(logits, logit_paddings, labels, label_paddings, blank_id, zero_infinity):
    lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU = _setup(
        logits, logit_paddings, labels, label_paddings
    )
    final, alphas = _alpha(logits, lse_TxB, valid_TxB, labels_BxU, repeat_BxU, blank_id, True)
    ll_B = _log_likelihood(*final, lengths_B)
    saved = (logits, lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU, alphas, final, ll_B)
    return _finish(ll_B, zero_infinity), saved


def _ctc_loss_bwd(blank_id, zero_infinity, saved, g_B):
    """Reverse-mode sweep through the alpha recursion, frame by frame.

    The adjoint of a state is its occupancy (posterior probability), so it lives in linear
    space within [0, 1] and cannot overflow; each logaddexp passes it back with weights
    exp(input - output) that sum to one, so one exp per logaddexp suffices.
    """
    logits, lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU, alphas, final, ll_B = saved
    batch, num_labels = labels_BxU.shape
    dtype = lse_TxB.dtype
    # Infeasible pairs (ll = -inf) get a zero, finite gradient; NaN still propagates.
    feasible_B = ll_B > -jnp.inf
    ll_B = jnp.where(feasible_B, ll_B, 0.0)
    scale_B = jnp.where(feasible_B, g_B, 0.0).astype(dtype)
    rows_BxU = jnp.broadcast_to(jnp.arange(batch)[:, None], labels_BxU.shape)
    states_S = jnp.arange(num_labels + 1)
    end_blank_BxS = states_S[None] == lengths_B[:, None]
    end_label_BxU = states_S[None, :-1] == lengths_B[:, None] - 1
    adjoint = (
        jnp.where(end_blank_BxS & feasible_B[:, None], jnp.exp(final[0] - ll_B[:, None]), 0.0),
        jnp.where(end_label_BxU & feasible_B[:, None], jnp.exp(final[1] - ll_B[:, None]), 0.0),
    )

    def step(carry, frame):
        adjoint, after, grad_BxTxV = carry
        t, lse_B, valid_B, *before = frame
        logprobs_BxV, blank_B, emit_BxU = _frame(logits, t, lse_B, labels_BxU, blank_id)
        row_BxV = _grad_row(logprobs_BxV, adjoint, labels_BxU, rows_BxU, blank_id)
        row_BxV = row_BxV * jnp.where(valid_B, scale_B, 0.0)[:, None]
        grad_BxTxV = jax.lax.dynamic_update_index_in_dim(
            grad_BxTxV, row_BxV.astype(grad_BxTxV.dtype), t, axis=1
        )
        new = _alpha_adjoint(before, after, blank_B, emit_BxU, repeat_BxU, *adjoint)
        adjoint = tuple(
            jnp.where(valid_B[:, None], n, c) for n, c in zip(new, adjoint, strict=True)
        )
        return (adjoint, tuple(before), grad_BxTxV), None

    frames = (jnp.arange(lse_TxB.shape[0]), lse_TxB, valid_TxB, *alphas)
    carry = (adjoint, final, jnp.zeros_like(logits))
    (_, _, grad_BxTxV), _ = jax.lax.scan(step, carry, frames, reverse=True)
    return grad_BxTxV, None, None, None  # paddings and labels get no gradient


def _grad_row(logprobs_BxV, adjoint, labels_BxU, rows_BxU, blank_id):
    """d(-log p)/d logits of one frame: softmax * (total occupancy = 1) - occupancy."""
    adj_blank_BxS, adj_label_BxU = adjoint
    occ_BxV = jnp.zeros_like(logprobs_BxV).at[rows_BxU, labels_BxU].add(adj_label_BxU)
    blank_occ_B = jnp.sum(adj_blank_BxS, axis=1)
    occ_BxV = occ_BxV.at[:, blank_id].add(blank_occ_B)
    # Sum of occupancies rather than 1: zero on infeasible rows, and rounding cancels.
    total_B = blank_occ_B + jnp.sum(adj_label_BxU, axis=1)
    return jnp.exp(logprobs_BxV) * total_B[:, None] - occ_BxV


def _alpha_adjoint(before, after, blank_B, emit_BxU, repeat_BxU, adj_blank_BxS, adj_label_BxU):
    """Adjoints of the states `before` frame t, given those of the states `after` it."""
    blank_BxS, label_BxU = before
    # Undo the emissions to recover the two logaddexp outputs of _alpha_step.
    into_blank_BxS = after[0] - blank_B[:, None]
    summed_label_BxU = after[1] - emit_BxU
    # Clamped at 1: re-subtracting the emission can round the output below its input.
    stay_BxU = jnp.minimum(jnp.exp(label_BxU - summed_label_BxU), 1.0)
    adj_into_BxU = adj_label_BxU * (1.0 - stay_BxU)
    zero_Bx1 = jnp.zeros_like(adj_blank_BxS[:, :1])
    adj_x_BxS = adj_blank_BxS + jnp.concatenate(
        [jnp.where(repeat_BxU, 0.0, adj_into_BxU), zero_Bx1], axis=1
    )
    keep_BxS = jnp.minimum(jnp.exp(blank_BxS - into_blank_BxS), 1.0)
    new_blank_BxS = adj_x_BxS * keep_BxS + jnp.concatenate(
        [jnp.where(repeat_BxU, adj_into_BxU, 0.0), zero_Bx1], axis=1
    )
    new_label_BxU = adj_label_BxU * stay_BxU + (adj_x_BxS * (1.0 - keep_BxS))[:, 1:]
    return new_blank_BxS, new_label_BxU


_ctc_loss_vjp.defvjp(_ctc_loss_fwd, _ctc_loss_bwd)
