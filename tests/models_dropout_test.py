"""The cheaper dropout (w2v2jax/models/dropout.py): its rate and scale against the asked
rate, independence between elements and between the two halves of a word, determinism,
and the same masks under a sharded jit as unsharded."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from w2v2jax.models.dropout import Dropout, keep_mask, threshold


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.5])
def test_keep_rate_and_unbiased_scale(rate):
    x = jnp.ones((64, 257, 301))  # odd last axis: the last word's high half is dropped
    y = Dropout(rate).apply({}, x, deterministic=False, rngs={"dropout": jax.random.key(1)})
    kept = np.asarray(y != 0)
    n = kept.size
    p = 1 - threshold(rate) / 2**16
    assert abs(p - (1 - rate)) < 2**-17
    # 5 standard errors of a binomial proportion over ~5 M draws
    assert abs(kept.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / p, rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 5 * np.sqrt((1 - p) / p / n)


def test_neighbours_and_word_halves_are_independent():
    m = np.asarray(keep_mask(jax.random.key(2), 0.5, (400, 1000)), np.float64)
    even, odd = m[:, 0::2].ravel(), m[:, 1::2].ravel()  # the two halves of one word
    assert abs(np.corrcoef(even, odd)[0, 1]) < 0.01
    assert abs(np.corrcoef(m[:-1].ravel(), m[1:].ravel())[0, 1]) < 0.01


def test_deterministic_rate_zero_and_one():
    x = jnp.arange(12.0).reshape(3, 4)
    rngs = {"dropout": jax.random.key(0)}
    assert Dropout(0.3).apply({}, x, deterministic=True) is x
    assert Dropout(0.0).apply({}, x, deterministic=False, rngs=rngs) is x
    assert not np.asarray(Dropout(1.0).apply({}, x, deterministic=False, rngs=rngs)).any()
    a = Dropout(0.3).apply({}, x, deterministic=False, rngs=rngs)
    b = Dropout(0.3).apply({}, x, deterministic=False, rngs=rngs)
    c = Dropout(0.3).apply({}, x, deterministic=False, rngs={"dropout": jax.random.key(9)})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_same_mask_sharded_and_unsharded():
    devices = np.array(jax.devices())
    if len(devices) < 2:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8 (make test)")
    mesh = Mesh(devices.reshape(2, -1), ("data", "model"))
    shape = (8, 6, 64)
    key = jax.random.key(3)
    ref = keep_mask(key, 0.1, shape)
    for spec in (PartitionSpec("data"), PartitionSpec("data", None, "model")):
        out = jax.jit(lambda k: keep_mask(k, 0.1, shape), out_shardings=NamedSharding(mesh, spec))(
            key
        )
        np.testing.assert_array_equal(out, ref)
