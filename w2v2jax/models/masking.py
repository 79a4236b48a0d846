"""SpecAugment-style time and channel masks, sampled on device inside jit.

Follows transformers' _compute_mask_indices: per row, int(prob * length / span + u) spans
(u ~ U[0,1)), at least `min_masks`, at most length // span, of `span` frames each, starts
uniform over the valid frames. Starts are drawn with replacement (the reference draws
without), so spans may overlap slightly more often; the expected masked share is the same
to within that overlap.

Pretraining adds fairseq's two samplers: `same_count_mask` (require_same_masks: every row
keeps the batch's smallest masked count, so the contrastive task has static shapes) and
`sample_negatives` (K distractors per frame from the other masked frames of the same row,
as frame indices within the row: no gather crosses the batch, so none crosses devices).
Legend: B batch, T frames, D width, N spans, K negatives.
"""

import jax
import jax.numpy as jnp


def span_mask(rng, lengths_B, size: int, prob: float, span: int, min_masks: int):
    """Boolean mask [B, size]: spans of `span` inside the first `lengths_B` positions."""
    max_spans = max(int(prob * size / span + 1), min_masks, 1)
    r_len, r_start = jax.random.split(rng)
    u_B = jax.random.uniform(r_len, lengths_B.shape)
    n_B = jnp.floor(prob * lengths_B / span + u_B).astype(jnp.int32)
    n_B = jnp.maximum(n_B, min_masks)
    n_B = jnp.minimum(n_B, lengths_B // span)
    room_B = jnp.maximum(lengths_B - span + 1, 1)
    start_BxN = jnp.floor(
        jax.random.uniform(r_start, (lengths_B.shape[0], max_spans)) * room_B[:, None]
    ).astype(jnp.int32)
    on_BxN = jnp.arange(max_spans)[None, :] < n_B[:, None]
    pos = jnp.arange(size)[None, None, :]
    hit_BxNxT = (pos >= start_BxN[..., None]) & (pos < start_BxN[..., None] + span)
    return jnp.any(hit_BxNxT & on_BxN[..., None], axis=1)


def time_mask(rng, paddings_BxT, prob: float, span: int, min_masks: int):
    lengths_B = jnp.sum(1.0 - paddings_BxT, axis=-1).astype(jnp.int32)
    return span_mask(rng, lengths_B, paddings_BxT.shape[1], prob, span, min_masks)


def feature_mask(rng, batch: int, width: int, prob: float, span: int, min_masks: int):
    lengths_B = jnp.full((batch,), width, jnp.int32)
    return span_mask(rng, lengths_B, width, prob, span, min_masks)


def same_count_mask(rng, mask_BxT):
    """fairseq's require_same_masks: each row keeps min-over-rows masked frames, dropping
    the others uniformly at random (fairseq: rng.choice(mask_idc, target_len))."""
    n_min = jnp.min(jnp.sum(mask_BxT, axis=-1))
    keys_BxT = jnp.where(mask_BxT, jax.random.uniform(rng, mask_BxT.shape), 2.0)
    rank_BxT = jnp.argsort(jnp.argsort(keys_BxT, axis=-1), axis=-1)  # 0 = kept first
    return mask_BxT & (rank_BxT < n_min)


def pretraining_mask(rng, paddings_BxT, prob: float, span: int, min_masks: int):
    """Span mask [B, T] (bool) with the same masked count in every row, padding never
    masked: fairseq's compute_mask_indices(..., require_same_masks=True)."""
    r_spans, r_trim = jax.random.split(rng)
    return same_count_mask(r_trim, time_mask(r_spans, paddings_BxT, prob, span, min_masks))


def sample_negatives(rng, mask_BxT, num_negatives: int):
    """int32 [B, T, K] frame indices within each row: for every masked frame, K draws
    (with replacement, as fairseq) uniform over the OTHER masked frames of its row.

    fairseq's sample_negatives (cross_sample_negatives=0) on the row's masked frames: draw
    j in [0, n - 1) and shift j >= own rank by one, which skips the positive and keeps the
    rest uniform. Unmasked frames get draws too (ignored by the loss); a row with fewer
    than two masked frames has no distractor, so its frames point at themselves (a
    negative equal to the positive, masked out of the logits).
    """
    b, t = mask_BxT.shape
    n_B = jnp.sum(mask_BxT, axis=-1)
    masked_first_BxT = jnp.argsort(~mask_BxT, axis=-1, stable=True).astype(jnp.int32)
    rank_BxT = jnp.cumsum(mask_BxT, axis=-1) - 1
    high = jnp.maximum(n_B - 1, 1)[:, None, None]
    j_BxTxK = jax.random.randint(rng, (b, t, num_negatives), 0, high)
    j_BxTxK = j_BxTxK + (j_BxTxK >= rank_BxT[..., None])
    neg_BxTxK = jax.vmap(lambda idx_T, j_TxK: idx_T[j_TxK])(masked_first_BxT, j_BxTxK)
    own_BxTxK = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32)[None, :, None], neg_BxTxK.shape)
    return jnp.where((n_B > 1)[:, None, None], neg_BxTxK, own_BxTxK)
