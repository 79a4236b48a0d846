"""A 1-D strided "VALID" convolution whose input gradient is a stride-1 conv.

XLA's CPU backend computes the input gradient of a strided conv as a conv over the
zero-dilated output gradient, ~2x slower than the forward conv; on the tiny model the
feature encoder's input gradients were a tenth of a training step. Cut into blocks of
`stride` samples (polyphase), the same gradient is a plain stride-1 conv of the output
gradient with ceil(K / stride) taps and stride * C output channels.

Legend: B batch, S samples, T output frames, K taps, C in channels, O out channels,
R taps of the polyphase conv (ceil(K / stride)), N blocks (T + R - 1), Q = stride * C.
"""

from functools import partial

import jax
import jax.numpy as jnp


def _forward(x_BxSxC, kernel_KxCxO, stride):
    return jax.lax.conv_general_dilated(
        x_BxSxC,
        kernel_KxCxO,
        window_strides=(stride,),
        padding="VALID",
        dimension_numbers=("NWC", "WIO", "NWC"),
    )


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def strided_conv(x_BxSxC, kernel_KxCxO, stride: int):
    """y[b, t] = sum_k x[b, t * stride + k] @ kernel[k]; the output has (S - K) // stride + 1 frames."""
    return _forward(x_BxSxC, kernel_KxCxO, stride)


def _fwd(x_BxSxC, kernel_KxCxO, stride):
    return _forward(x_BxSxC, kernel_KxCxO, stride), (x_BxSxC, kernel_KxCxO)


def _bwd(stride, residuals, dy_BxTxO):
    x_BxSxC, kernel_KxCxO = residuals
    b, s, c = x_BxSxC.shape
    k, _, o = kernel_KxCxO.shape
    t = dy_BxTxO.shape[1]
    r = -(-k // stride)
    n = t + r - 1
    used = min(s, n * stride)
    dy = dy_BxTxO.astype(jnp.promote_types(dy_BxTxO.dtype, x_BxSxC.dtype))
    # Polyphase: block m of `stride` input samples gets dy[m - j] @ kernel[j * stride + p]^T,
    # a stride-1 conv of dy (padded by r - 1 each side) with r taps and stride * C outputs.
    w_RxPxCxO = jnp.pad(kernel_KxCxO, ((0, r * stride - k), (0, 0), (0, 0))).reshape(
        r, stride, c, o
    )
    w_RxOxQ = jnp.transpose(w_RxPxCxO[::-1], (0, 3, 1, 2)).reshape(r, o, stride * c)
    dx_BxNxQ = jax.lax.conv_general_dilated(
        dy,
        w_RxOxQ.astype(dy.dtype),
        (1,),
        [(r - 1, r - 1)],
        dimension_numbers=("NWC", "WIO", "NWC"),
    )
    dx = dx_BxNxQ.reshape(b, n * stride, c)[:, :used]
    dx = jnp.pad(dx, ((0, 0), (0, s - used), (0, 0))).astype(x_BxSxC.dtype)
    # XLA's own kernel gradient is already a matmul-speed conv; only the input one was slow.
    dkernel = jax.vjp(lambda w: _forward(x_BxSxC, w, stride), kernel_KxCxO)[1](dy_BxTxO)[0]
    return dx, dkernel


strided_conv.defvjp(_fwd, _bwd)
