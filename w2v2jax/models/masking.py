"""SpecAugment-style time and channel masks, sampled on device inside jit.

Follows transformers' _compute_mask_indices: per row, int(prob * length / span + u) spans
(u ~ U[0,1)), at least `min_masks`, at most length // span, of `span` frames each, starts
uniform over the valid frames. Starts are drawn with replacement (the reference draws
without), so spans may overlap slightly more often; the expected masked share is the same
to within that overlap. Legend: B batch, T frames, D width, N spans.
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
