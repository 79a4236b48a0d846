"""Dropout whose mask costs a fraction of flax's.

flax's `nn.Dropout` draws one float32 uniform per element (`jax.random.bernoulli`): a
32-bit threefry word, then a conversion to float and a compare. In the base model's
training step that is 5.6 M draws per layer (attention probabilities [B, H, T, T], the
feed-forward's [B, T, 3072], two [B, T, 768]), and on this CPU it was several times the
cost of what replaces it here: each 32-bit word gives two 16-bit draws, compared as
integers (benchmarks/RESULTS_pretrain.md has the step's figures).

An element is kept when its 16-bit draw is >= round(rate * 2**16): the dropout rate is the
asked one to within 2**-17, and kept elements are scaled by the exact inverse of their
keep probability, 2**16 / (2**16 - threshold), so the output's expectation is the input.
The two halves of a word go to neighbouring elements of the last axis (a stack, then a
reshape that keeps every shard's elements its own), and the bits come from
`jax.random.bits`, which gives the same values however the array is sharded: a sharded
step draws the same masks as an unsharded one.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

_LEVELS = 1 << 16


def threshold(rate: float) -> int:
    """The 16-bit draw an element needs to be kept."""
    return round(rate * _LEVELS)


def keep_mask(rng, rate: float, shape: tuple[int, ...]):
    """bool[shape], True with probability 1 - threshold(rate) / 2**16, independently."""
    shape = tuple(shape)
    if not shape:
        return keep_mask(rng, rate, (1,))[0]
    half = -(-shape[-1] // 2)
    words = jax.random.bits(rng, shape[:-1] + (half,), jnp.uint32)
    t = jnp.uint32(threshold(rate))
    pairs = jnp.stack([(words & 0xFFFF) >= t, (words >> 16) >= t], axis=-1)
    return pairs.reshape(shape[:-1] + (2 * half,))[..., : shape[-1]]


class Dropout(nn.Module):
    """`nn.Dropout(rate)(x, deterministic=...)` with the cheaper mask; same rng stream
    name ("dropout"), no parameters."""

    rate: float
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, x, deterministic: bool):
        if deterministic or self.rate == 0.0:
            return x
        if self.rate >= 1.0:
            return jnp.zeros_like(x)
        keep = keep_mask(self.make_rng(self.rng_collection), self.rate, x.shape)
        scale = _LEVELS / (_LEVELS - threshold(self.rate))
        return jnp.where(keep, x * jnp.asarray(scale, x.dtype), jnp.zeros((), x.dtype))
