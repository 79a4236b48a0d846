"""Activations by transformers' names, a fused group norm + activation for conv layer 0,
and `scale_grad` (fairseq's feature_grad_mult).

The exact GELU is a custom VJP that keeps only its input for the backward pass. Autodiff of
`jax.nn.gelu` writes erfc and exp(-x^2) residuals the size of the activation; on the CPU,
where the feature encoder's first layers are memory-bound (16 x 6400 x 128 floats per
batch), those extra passes were a fifth of a training step.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.errors import ConfigError

_RSQRT2 = float(1.0 / np.sqrt(2.0))
_RSQRT2PI = float(1.0 / np.sqrt(2.0 * np.pi))


def _up(x):
    """float32 for 16-bit inputs, else the input's own precision."""
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _cdf(x):
    return 0.5 * (1.0 + jax.lax.erf(x * _RSQRT2))


def _gelu_grad(x):
    return _cdf(x) + x * jnp.exp(-0.5 * x * x) * _RSQRT2PI


@jax.custom_vjp
def gelu(x):
    """x * Phi(x), computed in at least float32: torch's exact GELU (transformers' "gelu")."""
    x32 = _up(x)
    return (x32 * _cdf(x32)).astype(x.dtype)


def _gelu_fwd(x):
    return gelu(x), x


def _gelu_bwd(x, g):
    return ((_up(g) * _gelu_grad(_up(x))).astype(x.dtype),)


gelu.defvjp(_gelu_fwd, _gelu_bwd)


def _gelu_tanh(x):
    return jax.nn.gelu(x, approximate=True)


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "relu": jax.nn.relu,
    "swish": jax.nn.silu,
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
}


def get(name: str):
    if name not in ACTIVATIONS:
        raise ConfigError(f"unsupported activation {name!r}: choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def group_norm_act(x_BxTxC, scale_C, bias_C, act: str = "gelu", eps: float = 1e-5):
    """act(GroupNorm(C groups)(x)): each channel normalised over time, in float32.

    With the exact GELU this is one custom VJP that reads x twice and writes once in the
    backward pass, instead of the chain of normalise, scale, erfc and their residuals.
    """
    if act != "gelu":
        return get(act)(_group_norm(x_BxTxC, scale_C, bias_C, eps)[0])
    return _group_norm_gelu(x_BxTxC, scale_C, bias_C, eps)


def _sums_over_time(a, b):
    return jnp.sum(a, axis=1, keepdims=True), jnp.sum(b, axis=1, keepdims=True)


def _stats(x32, eps):
    # Shifted by the first frame: E[d^2] - E[d]^2 in one pass without the cancellation of
    # E[x^2] - E[x]^2 when a channel's mean is large against its spread.
    d = x32 - x32[:, :1]
    s1, s2 = _sums_over_time(d, d * d)
    n = x32.shape[1]
    mean_d = s1 / n
    var = jnp.maximum(s2 / n - mean_d * mean_d, 0.0)
    return mean_d + x32[:, :1], jax.lax.rsqrt(var + eps)


def _group_norm(x, scale, bias, eps):
    x32 = _up(x)
    mean, rstd = _stats(x32, eps)
    return ((x32 - mean) * rstd) * scale + bias, (mean, rstd)


def _group_norm_gelu_impl(x, scale, bias, eps):
    u, stats = _group_norm(x, scale, bias, eps)
    return u * _cdf(u), stats


_group_norm_gelu = jax.custom_vjp(
    lambda x, scale, bias, eps: _group_norm_gelu_impl(x, scale, bias, eps)[0],
    nondiff_argnums=(3,),
)


def _gng_fwd(x, scale, bias, eps):
    y, (mean, rstd) = _group_norm_gelu_impl(x, scale, bias, eps)
    return y, (x, scale, bias, mean, rstd)


def _gng_bwd(eps, residuals, g):
    x, scale, bias, mean, rstd = residuals
    x32 = _up(x)

    def parts():
        # Recomputed in both passes rather than stored: memory traffic is the cost here.
        xhat = (x32 - mean) * rstd
        du = _up(g) * _gelu_grad(xhat * scale + bias)
        return xhat, du

    xhat, du = parts()
    s1, s2 = _sums_over_time(du, du * xhat)  # [B, 1, C] each
    dbias, dscale = jnp.sum(s1, axis=(0, 1)), jnp.sum(s2, axis=(0, 1))
    n = x.shape[1]
    xhat, du = parts()
    dx = rstd * scale * (du - s1 / n - xhat * (s2 / n))
    return dx.astype(x.dtype), dscale.astype(scale.dtype), dbias.astype(bias.dtype)


_group_norm_gelu.defvjp(_gng_fwd, _gng_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def scale_grad(x, mult: float):
    """The identity forward; the gradient multiplied by `mult` backward (fairseq's
    GradMultiply). A custom VJP rather than x*m + stop_gradient(x*(1-m)): the forward
    values stay bit-identical to x."""
    return x


def _scale_grad_fwd(x, mult):
    return x, None


def _scale_grad_bwd(mult, _, g):
    return ((g * mult).astype(g.dtype),)


scale_grad.defvjp(_scale_grad_fwd, _scale_grad_bwd)
