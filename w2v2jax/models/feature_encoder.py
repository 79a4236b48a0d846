"""The convolutional feature encoder: 16 kHz samples -> one frame per 20 ms.

Legend: B batch, S samples, T frames, C conv channels, D model width.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.errors import AudioError
from w2v2jax.frames import SAMPLE_RATE, frame_count, receptive_field
from w2v2jax.models import activations, axes
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.dropout import Dropout
from w2v2jax.models.strided_conv import strided_conv


def frame_paddings(audio_paddings_BxS: jax.Array, num_frames: int, cfg: Wav2Vec2Config):
    """Frame paddings [B, T] (1.0 = padding) from right-padded sample paddings [B, S]."""
    valid_B = jnp.sum(1.0 - audio_paddings_BxS, axis=-1).astype(jnp.int32)
    frames_B = jnp.maximum(frame_count(valid_B, cfg), 0)
    return (jnp.arange(num_frames)[None, :] >= frames_B[:, None]).astype(jnp.float32)


def check_length(num_samples: int, cfg: Wav2Vec2Config) -> None:
    field = receptive_field(cfg)
    if num_samples < field:
        raise AudioError(
            f"audio has {num_samples} samples, fewer than one frame of the feature encoder "
            f"({field} samples = {1000 * field / SAMPLE_RATE:.0f} ms at 16 kHz). Pad the audio to at "
            f"least {field} samples or drop the example."
        )


def _uniform(bound: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class StridedConv(nn.Module):
    """nn.Conv's parameters ("kernel" [K, C, O], "bias"), computed by `strided_conv`."""

    cfg: Wav2Vec2Config
    index: int

    @nn.compact
    def __call__(self, x_BxSxC):
        cfg, i = self.cfg, self.index
        kernel = self.param(
            "kernel",
            nn.with_logical_partitioning(
                nn.initializers.he_normal(), (axes.KERNEL, axes.CONV_IN, axes.CONV_OUT)
            ),
            (cfg.conv_kernel[i], x_BxSxC.shape[-1], cfg.conv_dim[i]),
        )
        y = strided_conv(x_BxSxC.astype(cfg.dtype), kernel.astype(cfg.dtype), cfg.conv_stride[i])
        if cfg.conv_bias:
            bias = self.param(
                "bias",
                nn.with_logical_partitioning(nn.initializers.zeros, (axes.CONV_OUT,)),
                (cfg.conv_dim[i],),
            )
            y = y + bias.astype(cfg.dtype)
        return y


class ConvLayer(nn.Module):
    cfg: Wav2Vec2Config
    index: int

    @nn.compact
    def __call__(self, x_BxTxC):
        cfg, i = self.cfg, self.index
        x_BxTxC = StridedConv(cfg, i, name="conv")(x_BxTxC)
        norm_init = {
            "scale_init": nn.with_logical_partitioning(nn.initializers.ones, (axes.CONV_OUT,)),
            "bias_init": nn.with_logical_partitioning(nn.initializers.zeros, (axes.CONV_OUT,)),
        }
        act = cfg.feat_extract_activation
        if cfg.feat_extract_norm == "layer":
            x_BxTxC = nn.LayerNorm(epsilon=1e-5, dtype=jnp.float32, name="layer_norm", **norm_init)(
                x_BxTxC
            )
        elif i == 0:
            # GroupNorm with one group per channel normalises each channel over all of time,
            # padded samples included: the base model is padding-sensitive, as in the reference.
            scale = self.param("layer_norm_scale", norm_init["scale_init"], (cfg.conv_dim[0],))
            bias = self.param("layer_norm_bias", norm_init["bias_init"], (cfg.conv_dim[0],))
            return activations.group_norm_act(x_BxTxC, scale, bias, act).astype(cfg.dtype)
        return activations.get(act)(x_BxTxC).astype(cfg.dtype)


class FeatureEncoder(nn.Module):
    """audio [B, S] -> features [B, T, C]."""

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, audio_BxS):
        check_length(audio_BxS.shape[-1], self.cfg)
        x = audio_BxS[..., None].astype(self.cfg.dtype)
        for i in range(len(self.cfg.conv_dim)):
            x = ConvLayer(self.cfg, i, name=f"conv_layers_{i}")(x)
        return x


class FeatureProjection(nn.Module):
    """LayerNorm + Dense + dropout: features [B, T, C] -> hidden [B, T, D] (and normed features)."""

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, x_BxTxC, deterministic: bool):
        cfg = self.cfg
        normed_BxTxC = nn.LayerNorm(
            epsilon=cfg.layer_norm_eps,
            dtype=jnp.float32,
            scale_init=nn.with_logical_partitioning(nn.initializers.ones, (axes.CONV_OUT,)),
            bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (axes.CONV_OUT,)),
            name="layer_norm",
        )(x_BxTxC)
        bound = 1.0 / np.sqrt(cfg.conv_dim[-1])
        x_BxTxD = nn.Dense(
            cfg.hidden_size,
            dtype=cfg.dtype,
            kernel_init=nn.with_logical_partitioning(_uniform(bound), (axes.CONV_OUT, axes.EMBED)),
            bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (axes.EMBED,)),
            name="projection",
        )(normed_BxTxC)
        x_BxTxD = Dropout(cfg.feat_proj_dropout)(x_BxTxD, deterministic=deterministic)
        return x_BxTxD, normed_BxTxC
