"""Positional schemes, chosen by `cfg.posemb`: conv | sinusoidal | learned | rope | none.

Additive schemes return an embedding [B, T, D] added to the hidden states before the
transformer; RoPE adds nothing there and instead rotates queries and keys in attention.
Legend: B batch, T frames, D model width, H heads, K head dim.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.errors import ConfigError, InputError
from w2v2jax.frames import frame_seconds
from w2v2jax.models import activations, axes
from w2v2jax.models.config import POSEMBS, Wav2Vec2Config


class ConvPositionalEmbedding(nn.Module):
    """Grouped conv over time with weight norm over the kernel axis, as in wav2vec 2.0.

    weight[k] = g[k] * v[k] / ||v[k]||: torch's weight_norm(dim=2) on a Conv1d weight
    [out, in/groups, kernel]. Even kernels drop the last output frame ("same" padding).
    """

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, x_BxTxD, left_BxPxD=None):
        """Under chunked attention the conv is chunk-limited (models/chunking.py).

        left_BxPxD: a stream's K // 2 frames before x, which is then exactly one chunk.
        """
        cfg = self.cfg
        k, g, d = cfg.num_conv_pos_embeddings, cfg.num_conv_pos_embedding_groups, cfg.hidden_size
        std = 2.0 * np.sqrt(1.0 / (k * d))
        v = self.param(
            "weight_v",
            nn.with_logical_partitioning(
                nn.initializers.normal(std), (axes.KERNEL, axes.NORM, axes.EMBED)
            ),
            (k, d // g, d),
        )
        g_init = lambda _key, _shape: jnp.sqrt(jnp.sum(jnp.square(nn.unbox(v)), axis=(1, 2)))
        weight_g = self.param(
            "weight_g", nn.with_logical_partitioning(g_init, (axes.KERNEL,)), (k,)
        )
        bias = self.param(
            "bias", nn.with_logical_partitioning(nn.initializers.zeros, (axes.EMBED,)), (d,)
        )
        norm_K = jnp.sqrt(jnp.sum(jnp.square(v), axis=(1, 2)))
        kernel = (v * (weight_g / norm_K)[:, None, None]).astype(cfg.dtype)
        x_BxTxD = x_BxTxD.astype(cfg.dtype)
        if left_BxPxD is not None:
            window = jnp.concatenate([left_BxPxD.astype(cfg.dtype), x_BxTxD], axis=1)
            y_BxTxD = window_conv(window, kernel, g)
        else:
            y_BxTxD = conv_posemb(x_BxTxD, kernel, g, cfg.attention_chunk_frames)
        return activations.get(cfg.feat_extract_activation)(y_BxTxD + bias.astype(cfg.dtype))


def conv_posemb(x_BxTxD, kernel_KxIxD, groups: int, chunk: int):
    """The conv embedding's conv: "same" over the whole input (chunk == 0), else
    chunk-limited: frame t reads K // 2 frames back and, ahead, only up to its chunk's end.

    Chunk j's window is frames [j c - K // 2, (j + 1) c) with zeros past it, so the input
    is read (c + K // 2) / c times over: the price of per-chunk right edges in one conv."""
    k = kernel_KxIxD.shape[0]
    if chunk == 0:
        y_BxTxD = grouped_conv(x_BxTxD, kernel_KxIxD, groups, k // 2)
        return y_BxTxD[:, :-1] if k % 2 == 0 else y_BxTxD
    b, t, d = x_BxTxD.shape
    n, back = -(-t // chunk), k // 2
    xp = jnp.pad(x_BxTxD, ((0, 0), (back, n * chunk - t), (0, 0)))
    idx_NxW = jnp.arange(n)[:, None] * chunk + jnp.arange(chunk + back)[None, :]
    windows = xp[:, idx_NxW].reshape(b * n, chunk + back, d)
    return window_conv(windows, kernel_KxIxD, groups).reshape(b, n * chunk, d)[:, :t]


def window_conv(window_BxWxD, kernel_KxIxD, groups: int):
    """[B, K // 2 + c, D] (K // 2 frames of left context, then one chunk) -> [B, c, D]."""
    k = kernel_KxIxD.shape[0]
    padded = jnp.pad(window_BxWxD, ((0, 0), (0, k - 1 - k // 2), (0, 0)))
    return grouped_conv(padded, kernel_KxIxD, groups, 0)


def _conv(x_BxTxC, kernel_KxIxC, groups: int, pad: int):
    return jax.lax.conv_general_dilated(
        x_BxTxC,
        kernel_KxIxC,
        window_strides=(1,),
        padding=[(pad, pad)],
        dimension_numbers=("NWC", "WIO", "NWC"),
        feature_group_count=groups,
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def grouped_conv(x_BxTxC, kernel_KxIxC, groups: int, pad: int):
    """A stride-1 grouped conv ("same"-style symmetric padding) whose kernel gradient is a
    cross-correlation computed by FFT: XLA's CPU backend lowers the usual kernel gradient
    of a grouped conv to a dilated conv ~20x slower than torch's, and a 128-tap
    correlation costs O(T log T) per channel pair by FFT against O(T * K) directly."""
    return _conv(x_BxTxC, kernel_KxIxC, groups, pad)


def _grouped_conv_fwd(x_BxTxC, kernel_KxIxC, groups, pad):
    return _conv(x_BxTxC, kernel_KxIxC, groups, pad), (x_BxTxC, kernel_KxIxC)


def _grouped_conv_bwd(groups, pad, residuals, dy_BxTxC):
    x_BxTxC, kernel_KxIxC = residuals
    (dx,) = jax.vjp(lambda x: _conv(x, kernel_KxIxC, groups, pad), x_BxTxC)[1](dy_BxTxC)
    k, i, c = kernel_KxIxC.shape
    b, t_out = dy_BxTxC.shape[:2]
    # dk[k, i, g, o] = sum_{b, t} x_pad[b, t + k, g, i] * dy[b, t, g, o]; the FFT length
    # covers t + k < t_out + k - 1, so the circular correlation never wraps.
    x_pad = jnp.pad(x_BxTxC.astype(jnp.float32), ((0, 0), (pad, pad), (0, 0)))
    n = _fft_len(max(x_pad.shape[1], t_out + k - 1))
    xf_BxFxGxI = jnp.fft.rfft(x_pad, n=n, axis=1).reshape(b, -1, groups, i)
    yf_BxFxGxO = jnp.fft.rfft(dy_BxTxC.astype(jnp.float32), n=n, axis=1)
    yf_BxFxGxO = yf_BxFxGxO.reshape(b, -1, groups, c // groups)
    cross_FxGxIxO = jnp.einsum("bfgi,bfgo->fgio", xf_BxFxGxI, jnp.conj(yf_BxFxGxO))
    dk_NxGxIxO = jnp.fft.irfft(cross_FxGxIxO, n=n, axis=0)[:k]
    dk = jnp.transpose(dk_NxGxIxO, (0, 2, 1, 3)).reshape(k, i, c)
    return dx, dk.astype(kernel_KxIxC.dtype)


def _fft_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (pocketfft is fastest on these)."""
    m = max(n, 1)
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


grouped_conv.defvjp(_grouped_conv_fwd, _grouped_conv_bwd)


def sinusoid_table(
    num_positions: int, dim: int, theta: float = 10000.0, start: int = 0
) -> np.ndarray:
    """Vaswani et al.: PE[p, 2i] = sin(p / theta^(2i/D)), PE[p, 2i+1] = cos(same), for
    p = start .. start + num_positions - 1 (a stream asks for the rows of one chunk)."""
    pos = np.arange(start, start + num_positions)[:, None]
    inv = 1.0 / theta ** (np.arange(0, dim, 2) / dim)
    table = np.zeros((num_positions, dim), np.float32)
    table[:, 0::2] = np.sin(pos * inv)
    table[:, 1::2] = np.cos(pos * inv)[:, : dim // 2]
    return table


class SinusoidalEmbedding(nn.Module):
    cfg: Wav2Vec2Config

    def __call__(self, x_BxTxD):
        table = sinusoid_table(x_BxTxD.shape[1], self.cfg.hidden_size)
        return jnp.broadcast_to(jnp.asarray(table, x_BxTxD.dtype), x_BxTxD.shape)


class LearnedEmbedding(nn.Module):
    """An absolute table of `max_positions` rows; longer inputs follow `learned_overflow`."""

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, x_BxTxD, start=0):
        """start: the position of x's first frame (a stream's traced frame count); a stream
        checks the table's end itself, since a traced start cannot raise here."""
        cfg, t = self.cfg, x_BxTxD.shape[1]
        table = self.param(
            "embedding",
            nn.with_logical_partitioning(
                nn.initializers.normal(0.02), (axes.POSITIONS, axes.EMBED)
            ),
            (cfg.max_positions, cfg.hidden_size),
        )
        if t > cfg.max_positions and cfg.learned_overflow == "error":
            raise InputError(
                f"input has {t} frames ({t * frame_seconds(cfg):.1f} s) but the learned positional table has "
                f"{cfg.max_positions} rows: shorten the audio, raise max_positions before "
                "training, or set learned_overflow='clip' to reuse the last row beyond the table"
            )
        idx = jnp.minimum(start + jnp.arange(t), cfg.max_positions - 1)
        return jnp.broadcast_to(table[idx].astype(x_BxTxD.dtype), x_BxTxD.shape)


def rope(x_BxTxHxK: jax.Array, theta: float, start=0) -> jax.Array:
    """Rotary embedding (Su et al.) with half-split pairs, applied to queries or keys;
    `start` (maybe traced) is the position of the first frame."""
    t, k = x_BxTxHxK.shape[1], x_BxTxHxK.shape[-1]
    inv = 1.0 / theta ** (jnp.arange(0, k // 2, dtype=jnp.float32) * 2 / k)
    pos_T = (start + jnp.arange(t)).astype(jnp.float32)
    ang_TxK2 = pos_T[:, None] * inv[None, :]
    sin, cos = jnp.sin(ang_TxK2)[None, :, None], jnp.cos(ang_TxK2)[None, :, None]
    x1, x2 = jnp.split(x_BxTxHxK.astype(jnp.float32), 2, axis=-1)
    out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return out.astype(x_BxTxHxK.dtype)


def get_posemb(cfg: Wav2Vec2Config) -> nn.Module | None:
    """The additive embedding module for `cfg.posemb`, or None (rope and none add nothing)."""
    if cfg.posemb == "conv":
        return ConvPositionalEmbedding(cfg, name="pos_conv_embed")
    if cfg.posemb == "sinusoidal":
        return SinusoidalEmbedding(cfg, name="pos_sinusoidal")
    if cfg.posemb == "learned":
        return LearnedEmbedding(cfg, name="pos_learned")
    if cfg.posemb in ("rope", "none"):
        return None
    raise ConfigError(f"unknown posemb {cfg.posemb!r}: choose one of {POSEMBS}")
