"""The hand-written gradients (strided conv, GELU, fused group norm + GELU) against autodiff
of the plain jax formulas they replace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from w2v2jax.models import activations
from w2v2jax.models.strided_conv import _forward, strided_conv


@pytest.mark.parametrize(
    "s,c,o,k,stride",
    [
        (32000 // 50, 1, 8, 10, 5),
        (101, 3, 4, 3, 2),
        (50, 2, 3, 2, 2),
        (101, 3, 4, 7, 3),
        (29, 3, 2, 4, 3),
        (20, 2, 3, 3, 1),
        (17, 2, 2, 1, 1),
    ],
)
def test_strided_conv_matches_xla(s, c, o, k, stride):
    rng = np.random.default_rng(k * 10 + stride)
    with jax.enable_x64(True):
        x = jnp.asarray(rng.standard_normal((2, s, c)))
        w = jnp.asarray(rng.standard_normal((k, c, o)))
        y, vjp = jax.vjp(lambda x, w: strided_conv(x, w, stride), x, w)
        y_ref, vjp_ref = jax.vjp(lambda x, w: _forward(x, w, stride), x, w)
        assert y.shape == y_ref.shape == (2, (s - k) // stride + 1, o)
        dy = jnp.asarray(rng.standard_normal(y.shape))
        for a, b in zip(vjp(dy), vjp_ref(dy), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_gelu_is_torch_exact_gelu_with_its_gradient():
    torch = pytest.importorskip("torch")
    x = np.linspace(-12, 12, 2001).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.gelu(xt).sum().backward()
    np.testing.assert_allclose(
        activations.gelu(jnp.asarray(x)), torch.nn.functional.gelu(xt).detach(), atol=2e-6
    )
    np.testing.assert_allclose(
        jax.grad(lambda v: activations.gelu(v).sum())(jnp.asarray(x)), xt.grad, atol=2e-6
    )


def test_gelu_keeps_bf16():
    x = jnp.linspace(-3, 3, 7, dtype=jnp.bfloat16)
    assert activations.gelu(x).dtype == jnp.bfloat16
    assert (
        jax.grad(lambda v: activations.gelu(v).astype(jnp.float32).sum())(x).dtype == jnp.bfloat16
    )


def _group_norm_gelu_ref(x, scale, bias):
    mean = jnp.mean(x, axis=1, keepdims=True)
    var = jnp.var(x, axis=1, keepdims=True)
    return jax.nn.gelu((x - mean) / jnp.sqrt(var + 1e-5) * scale + bias, approximate=False)


def test_group_norm_gelu_matches_autodiff():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        x = jnp.asarray(rng.standard_normal((3, 40, 5)) * 2 + 0.5)
        scale = jnp.asarray(rng.standard_normal(5))
        bias = jnp.asarray(rng.standard_normal(5))
        dy = jnp.asarray(rng.standard_normal((3, 40, 5)))
        y, vjp = jax.vjp(lambda *a: activations.group_norm_act(*a, "gelu"), x, scale, bias)
        y_ref, vjp_ref = jax.vjp(_group_norm_gelu_ref, x, scale, bias)
        np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-7)
        for a, b in zip(vjp(dy), vjp_ref(dy), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="unsupported activation 'mish'"):
        activations.get("mish")
