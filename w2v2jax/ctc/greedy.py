"""CTC greedy (best path) decoding, and the -1 padded id layout every decoder returns.

Legend: B batch, T frames, V vocabulary (blank included).
Outputs are left-aligned ids padded with -1 (`to_lists` turns them into python lists);
`left_align` builds that layout, here and in the beam search's trace back.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc.checks import check_frames


def greedy_decode(logits_BxTxV, paddings_BxT, blank_id=0):
    """Best path: argmax per frame, repeats collapsed, blanks and padded frames dropped.

    Returns:
      ids_BxT: [B, T] int32, the ids left-aligned and padded with -1.
    """
    check_frames(logits_BxTxV, paddings_BxT, blank_id)
    return _greedy(logits_BxTxV, paddings_BxT, blank_id)


@functools.partial(jax.jit, static_argnums=2)
def _greedy(logits_BxTxV, paddings_BxT, blank_id):
    best_BxT = jnp.argmax(logits_BxTxV, axis=-1).astype(jnp.int32)
    best_BxT = jnp.where(paddings_BxT > 0.5, blank_id, best_BxT)
    # A roll, not pad(best[:, :-1]): with the padding mask above, the pad made XLA's SPMD
    # partitioner take minutes to compile an eval step on a batch-sharded 8-device mesh.
    first_T = jnp.arange(best_BxT.shape[1]) == 0
    previous_BxT = jnp.where(first_T, blank_id, jnp.roll(best_BxT, 1, axis=1))
    keep_BxT = (best_BxT != blank_id) & (best_BxT != previous_BxT)
    return left_align(jnp.where(keep_BxT, best_BxT, -1))


def left_align(ids_BxT):
    """Moves the non-negative entries of each row to the front, in order; -1 after them.

    Any leading axes are batch axes: [B, T] and [B, N, T] both work.
    """
    keep_BxT = ids_BxT >= 0
    position_BxT = jnp.where(keep_BxT, jnp.cumsum(keep_BxT, axis=-1) - 1, ids_BxT.shape[-1])
    out_BxT = jnp.full(ids_BxT.shape, -1, jnp.int32)
    rows = jnp.indices(ids_BxT.shape[:-1])
    index = (*(r[..., None] for r in rows), position_BxT)
    return out_BxT.at[index].set(ids_BxT, mode="drop")


def to_lists(ids):
    """[B, T] or [B, N, T] ids padded with -1 -> nested python lists of ints."""
    ids = np.asarray(ids)
    if ids.ndim == 1:
        return [int(i) for i in ids if i >= 0]
    return [to_lists(row) for row in ids]
