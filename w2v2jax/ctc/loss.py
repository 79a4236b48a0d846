"""CTC loss: log-space forward algorithm on a split blank/label lattice, custom VJP.

Legend: B batch, T frames, V vocabulary (blank included), U label length, S = U + 1 blank
states. Paddings, not lengths: 1.0 marks a padded frame or label (as `optax.ctc_loss`).

Lattice: blank state s sits before label s (s = 0..U), label state u emits label u. Per
frame, with `x = logaddexp(blank[s], label[s - 1])`:
    blank[s] <- x + log p(blank)
    label[u] <- logaddexp(label[u], repeat[u] ? blank[u] : x[u]) + log p(label u)
so two `logaddexp` per label per frame; a repeated label must pass through the blank.

Gradient: beta is the alpha recursion run on the time- and label-reversed problem. Both
directions run as one scan over a 2B batch (in the forward pass of the VJP), so the
backward pass is a single vectorised occupancy computation plus a scatter into V.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

_NEG_INF = -jnp.inf


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
    check_labels(labels_BxU, label_paddings_BxU, logits_BxTxV.shape, blank_id)
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
    same_BxU = labels_BxU[:, 1:] == labels_BxU[:, :-1]
    repeat_BxU = jnp.pad(same_BxU, ((0, 0), (1, 0)))
    return lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU


def _frame(logits_BxTxV, t, lse_B, labels_BxU, blank_id):
    """Log-probs of frame t, its blank and label emissions (gathered, not one-hot)."""
    logits_BxV = jax.lax.dynamic_index_in_dim(logits_BxTxV, t, axis=1, keepdims=False)
    logprobs_BxV = logits_BxV.astype(lse_B.dtype) - lse_B[:, None]
    emit_BxU = jnp.take_along_axis(logprobs_BxV, labels_BxU, axis=1)
    return logprobs_BxV, logprobs_BxV[:, blank_id], emit_BxU


def _alpha_step(blank_BxS, label_BxU, blank_B, emit_BxU, repeat_BxU):
    neg_Bx1 = jnp.full_like(blank_BxS[:, :1], _NEG_INF)
    into_blank_BxS = jnp.logaddexp(blank_BxS, jnp.concatenate([neg_Bx1, label_BxU], axis=1))
    into_label_BxU = jnp.where(repeat_BxU, blank_BxS[:, :-1], into_blank_BxS[:, :-1])
    new_label_BxU = jnp.logaddexp(label_BxU, into_label_BxU) + emit_BxU
    return into_blank_BxS + blank_B[:, None], new_label_BxU


def _beta_step(blank_BxS, label_BxU, blank_B, emit_BxU, repeat_next_BxU):
    # Mirror of _alpha_step: blank s continues to blank s or label s; label u to u, u + 1.
    neg_Bx1 = jnp.full_like(blank_BxS[:, :1], _NEG_INF)
    from_blank_BxS = jnp.logaddexp(blank_BxS, jnp.concatenate([label_BxU, neg_Bx1], axis=1))
    from_label_BxU = jnp.where(repeat_next_BxU, blank_BxS[:, 1:], from_blank_BxS[:, 1:])
    new_label_BxU = jnp.logaddexp(label_BxU, from_label_BxU) + emit_BxU
    return from_blank_BxS + blank_B[:, None], new_label_BxU


def _one_hot_states(position_B, num_states, dtype):
    states_S = jnp.arange(num_states)
    return jnp.where(states_S[None] == position_B[:, None], 0.0, _NEG_INF).astype(dtype)


def _alpha(logits_BxTxV, lse_TxB, valid_TxB, labels_BxU, repeat_BxU, blank_id, keep):
    """Forward variables; padded frames leave the state unchanged."""
    batch, num_labels = labels_BxU.shape
    dtype = lse_TxB.dtype
    init = (
        _one_hot_states(jnp.zeros(batch, jnp.int32), num_labels + 1, dtype),
        jnp.full((batch, num_labels), _NEG_INF, dtype),
    )

    def step(carry, frame):
        t, lse_B, valid_B = frame
        _, blank_B, emit_BxU = _frame(logits_BxTxV, t, lse_B, labels_BxU, blank_id)
        new = _alpha_step(*carry, blank_B, emit_BxU, repeat_BxU)
        carry = tuple(jnp.where(valid_B[:, None], n, c) for n, c in zip(new, carry, strict=True))
        return carry, (carry if keep else None)

    frames = (jnp.arange(lse_TxB.shape[0]), lse_TxB, valid_TxB)
    return jax.lax.scan(step, init, frames)


def _log_likelihood(final_blank_BxS, final_label_BxU, lengths_B):
    end_blank_B = jnp.take_along_axis(final_blank_BxS, lengths_B[:, None], axis=1)[:, 0]
    last_B = jnp.take_along_axis(final_label_BxU, jnp.maximum(lengths_B - 1, 0)[:, None], 1)
    last_B = jnp.where(lengths_B > 0, last_B[:, 0], _NEG_INF)
    return jnp.logaddexp(end_blank_B, last_B)


def _finish(log_likelihood_B, zero_infinity):
    # Rounding can push a near-certain sequence a hair above log 1: the loss stays >= 0.
    loss_B = jnp.maximum(-log_likelihood_B, 0.0)
    if zero_infinity:
        loss_B = jnp.where(jnp.isfinite(loss_B), loss_B, 0.0)
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
    saved = (logits, lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU, alphas, ll_B)
    return _finish(ll_B, zero_infinity), (saved, logit_paddings, label_paddings)


def _ctc_loss_bwd(blank_id, zero_infinity, residuals, g_B):
    """Beta recursion backwards in time; each frame's gradient row is written in place."""
    saved, logit_paddings, label_paddings = residuals
    logits, lse_TxB, valid_TxB, labels_BxU, lengths_B, repeat_BxU, alphas, ll_B = saved
    batch, num_labels = labels_BxU.shape
    dtype = lse_TxB.dtype
    # Infeasible (ll = -inf) or non-finite pairs get a zero, finite gradient.
    finite_B = jnp.isfinite(ll_B)
    ll_B = jnp.where(finite_B, ll_B, 0.0)
    scale_B = jnp.where(finite_B, g_B, 0.0).astype(dtype)
    repeat_next_BxU = jnp.pad(repeat_BxU[:, 1:], ((0, 0), (0, 1)))
    rows_BxU = jnp.broadcast_to(jnp.arange(batch)[:, None], labels_BxU.shape)
    init = (
        _one_hot_states(lengths_B, num_labels + 1, dtype),
        jnp.full((batch, num_labels), _NEG_INF, dtype),
    )

    def step(carry, frame):
        beta, grad_BxTxV = carry
        t, lse_B, valid_B, alpha_blank_BxS, alpha_label_BxU = frame
        logprobs_BxV, blank_B, emit_BxU = _frame(logits, t, lse_B, labels_BxU, blank_id)
        new = _beta_step(*beta, blank_B, emit_BxU, repeat_next_BxU)
        beta = tuple(jnp.where(valid_B[:, None], n, c) for n, c in zip(new, beta, strict=True))
        # Occupancy = alpha * beta / (p * emission): both variables include frame t.
        norm_B = ll_B + blank_B
        blank_occ_B = jnp.sum(jnp.exp(alpha_blank_BxS + beta[0] - norm_B[:, None]), axis=1)
        label_occ_BxU = jnp.exp(alpha_label_BxU + beta[1] - emit_BxU - ll_B[:, None])
        occ_BxV = jnp.zeros_like(logprobs_BxV).at[rows_BxU, labels_BxU].add(label_occ_BxU)
        occ_BxV = occ_BxV.at[:, blank_id].add(blank_occ_B)
        # d(-log p)/d logits = softmax * (total occupancy, 1) - occupancy.
        row_BxV = (jnp.exp(logprobs_BxV) - occ_BxV) * jnp.where(valid_B, scale_B, 0.0)[:, None]
        row_BxV = row_BxV.astype(grad_BxTxV.dtype)
        grad_BxTxV = jax.lax.dynamic_update_index_in_dim(grad_BxTxV, row_BxV, t, axis=1)
        return (beta, grad_BxTxV), None

    frames = (jnp.arange(lse_TxB.shape[0]), lse_TxB, valid_TxB, *alphas)
    (_, grad_BxTxV), _ = jax.lax.scan(step, (init, jnp.zeros_like(logits)), frames, reverse=True)
    return grad_BxTxV, jnp.zeros_like(logit_paddings), None, jnp.zeros_like(label_paddings)


_ctc_loss_vjp.defvjp(_ctc_loss_fwd, _ctc_loss_bwd)


# Input checks: shapes always, values only when the inputs are concrete (not tracers), so a
# bad batch fails here with a message instead of deep inside a jax trace.


def _is_concrete(*arrays):
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


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


def _check_binary(paddings, name):
    values = np.asarray(paddings)
    if not np.all((values == 0) | (values == 1)):
        raise ValueError(f"{name} must hold only 0.0 (real) and 1.0 (padding).")
