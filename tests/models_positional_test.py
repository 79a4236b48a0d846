import jax
import jax.numpy as jnp
import numpy as np
import pytest

from w2v2jax.models.positional import _conv, grouped_conv, rope, sinusoid_table


@pytest.mark.parametrize("k,groups,t", [(16, 4, 40), (15, 3, 33), (128, 16, 70), (5, 1, 9)])
def test_grouped_conv_gradients_match_xla(k, groups, t):
    rng = np.random.default_rng(0)
    c = 4 * groups
    x = jnp.asarray(rng.standard_normal((2, t, c)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((k, c // groups, c)), jnp.float32)
    dy = jnp.asarray(rng.standard_normal(_conv(x, w, groups, k // 2).shape), jnp.float32)

    def loss(fn):
        return lambda x, w: jnp.sum(fn(x, w, groups, k // 2) * dy)

    np.testing.assert_allclose(grouped_conv(x, w, groups, k // 2), _conv(x, w, groups, k // 2))
    ours = jax.grad(loss(grouped_conv), argnums=(0, 1))(x, w)
    ref = jax.grad(loss(_conv), argnums=(0, 1))(x, w)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_sinusoid_table_values():
    table = sinusoid_table(50, 16)
    assert table.shape == (50, 16)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(50)))
    np.testing.assert_allclose(table[:, 1], np.cos(np.arange(50)))
    np.testing.assert_allclose(table[0, 1::2], 1.0)


def test_rope_scores_depend_only_on_offsets():
    rng = np.random.default_rng(0)
    q = jnp.asarray(np.tile(rng.standard_normal((1, 1, 1, 8)), (1, 12, 1, 1)), jnp.float32)
    k = jnp.asarray(np.tile(rng.standard_normal((1, 1, 1, 8)), (1, 12, 1, 1)), jnp.float32)
    scores = jnp.einsum("bqhk,bshk->qs", rope(q, 100.0), rope(k, 100.0))
    for off in (0, 1, 3):
        diag = np.diagonal(np.asarray(scores), offset=off)
        np.testing.assert_allclose(diag, diag[0], rtol=1e-4, atol=1e-5)
