"""The whole model: Wav2Vec2Model (encoder, no head) and Wav2Vec2ForCTC.

Parameter names follow transformers' module names (wav2vec2/feature_extractor/...,
lm_head) so that conversion is a renaming plus transposes.
Legend: B batch, S samples, T frames, C conv channels, D model width, V vocab.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from w2v2jax.models import activations, axes
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.dropout import Dropout
from w2v2jax.models.feature_encoder import (
    FeatureEncoder,
    FeatureProjection,
    frame_paddings,
)
from w2v2jax.models.masking import feature_mask, time_mask
from w2v2jax.models.transformer import Encoder


class Wav2Vec2Model(nn.Module):
    """audio [B, S], audio paddings [B, S] -> dict of hidden [B, T, D], paddings [B, T], ...

    `mask_time_BxT` (bool) replaces the sampled time mask (pretraining supplies its own);
    masking is applied only when `deterministic` is False or a mask is given.
    "conv_features" is the CNN output [B, T, C] before the layer norm (pretraining's
    feature penalty), "features" the layer-normed one (the quantizer's input).
    """

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(
        self, audio_BxS, audio_paddings_BxS, deterministic: bool = True, mask_time_BxT=None
    ):
        cfg = self.cfg
        feats_BxTxC = FeatureEncoder(cfg, name="feature_extractor")(audio_BxS)
        if cfg.feature_grad_mult != 1.0:
            # fairseq scales the CNN's gradient right at its output (GradMultiply); 1.0 adds
            # nothing to the graph, so the CTC model is unchanged.
            feats_BxTxC = activations.scale_grad(feats_BxTxC, cfg.feature_grad_mult)
        paddings_BxT = frame_paddings(audio_paddings_BxS, feats_BxTxC.shape[1], cfg)
        x_BxTxD, normed_BxTxC = FeatureProjection(cfg, name="feature_projection")(
            feats_BxTxC, deterministic
        )
        x_BxTxD, mask_time_BxT = self._mask(x_BxTxD, paddings_BxT, deterministic, mask_time_BxT)
        x_BxTxD = Encoder(cfg, name="encoder")(x_BxTxD, paddings_BxT, deterministic)
        return {
            "hidden": x_BxTxD,
            "paddings": paddings_BxT,
            "features": normed_BxTxC,
            "conv_features": feats_BxTxC,
            "mask_time": mask_time_BxT,
        }

    def _mask(self, x_BxTxD, paddings_BxT, deterministic, mask_time_BxT):
        cfg = self.cfg
        if not cfg.has_masked_spec_embed:
            return x_BxTxD, mask_time_BxT
        embed_D = self.param(
            "masked_spec_embed",
            nn.with_logical_partitioning(nn.initializers.uniform(1.0), (axes.EMBED,)),
            (cfg.hidden_size,),
        )
        if mask_time_BxT is None and not deterministic and cfg.mask_time_prob > 0:
            mask_time_BxT = time_mask(
                self.make_rng("mask"),
                paddings_BxT,
                cfg.mask_time_prob,
                cfg.mask_time_length,
                cfg.mask_time_min_masks,
            )
        if mask_time_BxT is not None:
            x_BxTxD = jnp.where(mask_time_BxT[..., None], embed_D.astype(x_BxTxD.dtype), x_BxTxD)
        if not deterministic and cfg.mask_feature_prob > 0:
            b, _, d = x_BxTxD.shape
            mask_BxD = feature_mask(
                self.make_rng("mask"),
                b,
                d,
                cfg.mask_feature_prob,
                cfg.mask_feature_length,
                cfg.mask_feature_min_masks,
            )
            x_BxTxD = jnp.where(mask_BxD[:, None, :], 0.0, x_BxTxD).astype(x_BxTxD.dtype)
        return x_BxTxD, mask_time_BxT


class Wav2Vec2ForCTC(nn.Module):
    """logits [B, T, V] (float32), paddings [B, T] = model.apply(vars, audio, audio_paddings).

    Training calls need rngs {"dropout", "mask"} and deterministic=False.
    """

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, audio_BxS, audio_paddings_BxS, deterministic: bool = True):
        cfg = self.cfg
        out = Wav2Vec2Model(cfg, name="wav2vec2")(audio_BxS, audio_paddings_BxS, deterministic)
        x_BxTxD = Dropout(cfg.final_dropout)(out["hidden"], deterministic=deterministic)
        logits_BxTxV = nn.Dense(
            cfg.vocab_size,
            dtype=cfg.dtype,
            kernel_init=nn.with_logical_partitioning(
                nn.initializers.normal(0.02), (axes.EMBED, axes.VOCAB)
            ),
            bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (axes.VOCAB,)),
            name="lm_head",
        )(x_BxTxD)
        return logits_BxTxV.astype(jnp.float32), out["paddings"]


def init_params(cfg: Wav2Vec2Config, rng, num_samples: int = 16000):
    """Plain (unboxed) float32 parameters of Wav2Vec2ForCTC, for tests and conversion."""
    audio = jnp.zeros((1, num_samples), jnp.float32)
    variables = jax.jit(Wav2Vec2ForCTC(cfg).init)(rng, audio, jnp.zeros_like(audio))
    return nn.unbox(variables["params"])
