"""The transformer encoder: post-LN ("base") or pre-LN ("large", stable layer norm).

Legend: B batch, T frames, D model width, H heads, K head dim, F ffn width, L layers.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from w2v2jax.models import activations, axes
from w2v2jax.models.chunking import attention_bias
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.dropout import Dropout
from w2v2jax.models.positional import get_posemb, rope

_REMAT_POLICIES = {
    "full": None,
    "dots_saveable": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
}


def _dense(cfg: Wav2Vec2Config, features: int, names: tuple[str, str], name: str):
    return nn.Dense(
        features,
        dtype=cfg.dtype,
        kernel_init=nn.with_logical_partitioning(nn.initializers.normal(0.02), names),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (names[1],)),
        name=name,
    )


def layer_norm(cfg: Wav2Vec2Config, name: str):
    """The encoder's LayerNorm (float32 statistics), shared with models/incremental.py."""
    return nn.LayerNorm(
        epsilon=cfg.layer_norm_eps,
        dtype=jnp.float32,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones, (axes.EMBED,)),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (axes.EMBED,)),
        name=name,
    )


def _constrain(x_BxTxD):
    return nn.with_logical_constraint(x_BxTxD, (axes.BATCH, axes.LENGTH, axes.EMBED))


class Attention(nn.Module):
    cfg: Wav2Vec2Config
    deterministic: bool

    @nn.compact
    def __call__(self, x_BxTxD, bias_Bx1x1xT, kv=None, start=0):
        """kv: a stream's cached keys and values of the left context, each [B, M, H, K],
        put before this chunk's; then (out, (keys, values)) with this chunk's appended.
        start: the position of x's first frame (RoPE)."""
        cfg = self.cfg
        b, t, _ = x_BxTxD.shape
        h, k = cfg.num_attention_heads, cfg.head_dim

        def heads(name):
            y = _dense(cfg, cfg.hidden_size, (axes.EMBED, axes.HEADS), name)(x_BxTxD)
            return y.reshape(b, t, h, k)

        q_BxTxHxK = heads("q_proj") * (k**-0.5)
        k_BxTxHxK, v_BxTxHxK = heads("k_proj"), heads("v_proj")
        if cfg.posemb == "rope":
            q_BxTxHxK = rope(q_BxTxHxK, cfg.rope_theta, start)
            k_BxTxHxK = rope(k_BxTxHxK, cfg.rope_theta, start)
        if kv is not None:
            k_BxTxHxK = jnp.concatenate([kv[0], k_BxTxHxK], axis=1)
            v_BxTxHxK = jnp.concatenate([kv[1], v_BxTxHxK], axis=1)
        logits_BxHxTxT = jnp.einsum("bqhk,bshk->bhqs", q_BxTxHxK, k_BxTxHxK)
        logits_BxHxTxT = logits_BxHxTxT.astype(jnp.float32) + bias_Bx1x1xT
        probs = jax.nn.softmax(logits_BxHxTxT, axis=-1)
        self.sow("intermediates", "attention", probs)
        probs = Dropout(cfg.attention_dropout)(probs, deterministic=self.deterministic)
        out_BxTxHxK = jnp.einsum("bhqs,bshk->bqhk", probs.astype(cfg.dtype), v_BxTxHxK)
        out_BxTxD = out_BxTxHxK.reshape(b, t, h * k)
        out_BxTxD = _dense(cfg, cfg.hidden_size, (axes.HEADS, axes.EMBED), "out_proj")(out_BxTxD)
        return out_BxTxD if kv is None else (out_BxTxD, (k_BxTxHxK, v_BxTxHxK))


class FeedForward(nn.Module):
    cfg: Wav2Vec2Config
    deterministic: bool

    @nn.compact
    def __call__(self, x_BxTxD):
        cfg = self.cfg
        y_BxTxF = _dense(cfg, cfg.intermediate_size, (axes.EMBED, axes.MLP), "intermediate_dense")(
            x_BxTxD
        )
        y_BxTxF = activations.get(cfg.hidden_act)(y_BxTxF)
        y_BxTxF = Dropout(cfg.activation_dropout)(y_BxTxF, deterministic=self.deterministic)
        y_BxTxD = _dense(cfg, cfg.hidden_size, (axes.MLP, axes.EMBED), "output_dense")(y_BxTxF)
        return Dropout(cfg.hidden_dropout)(y_BxTxD, deterministic=self.deterministic)


class EncoderLayer(nn.Module):
    """One block. A layer dropped by layerdrop is skipped, not computed and discarded: the
    draw picks a branch of `nn.cond`, and XLA runs only that branch (forward and backward),
    as fairseq's and transformers' `if skip: continue` does.

    With `kv` (a stream's cache, see Attention) it returns (x, (keys, values))."""

    cfg: Wav2Vec2Config
    deterministic: bool

    def __call__(self, x_BxTxD, bias_Bx1x1xT, kv=None, start=0):
        cfg, det = self.cfg, self.deterministic
        if cfg.layerdrop > 0.0 and not det and kv is None and not self.is_initializing():
            skip = jax.random.uniform(self.make_rng("dropout"), ()) < cfg.layerdrop
            x_BxTxD = nn.cond(skip, _skipped, _computed, self, x_BxTxD, bias_Bx1x1xT)
            return _constrain(x_BxTxD)
        out = self.block(x_BxTxD, bias_Bx1x1xT, kv, start)
        x_BxTxD, new_kv = out if kv is not None else (out, None)
        x_BxTxD = _constrain(x_BxTxD)
        return x_BxTxD if kv is None else (x_BxTxD, new_kv)

    @nn.compact
    def block(self, x_BxTxD, bias_Bx1x1xT, kv=None, start=0):
        cfg, det = self.cfg, self.deterministic
        drop = Dropout(cfg.hidden_dropout)
        stable = cfg.do_stable_layer_norm
        y = layer_norm(cfg, "layer_norm")(x_BxTxD).astype(cfg.dtype) if stable else x_BxTxD
        y = Attention(cfg, det, name="attention")(y, bias_Bx1x1xT, kv, start)
        y, new_kv = y if kv is not None else (y, None)
        if stable:
            x_BxTxD = x_BxTxD + drop(y, deterministic=det)
            y = layer_norm(cfg, "final_layer_norm")(x_BxTxD).astype(cfg.dtype)
            x_BxTxD = x_BxTxD + FeedForward(cfg, det, name="feed_forward")(y)
        else:
            x_BxTxD = layer_norm(cfg, "layer_norm")(x_BxTxD + drop(y, deterministic=det))
            x_BxTxD = x_BxTxD.astype(cfg.dtype)
            x_BxTxD = x_BxTxD + FeedForward(cfg, det, name="feed_forward")(x_BxTxD)
            x_BxTxD = layer_norm(cfg, "final_layer_norm")(x_BxTxD)
        x_BxTxD = x_BxTxD.astype(cfg.dtype)
        return x_BxTxD if kv is None else (x_BxTxD, new_kv)


def _skipped(layer, x_BxTxD, bias_Bx1x1xT):
    return x_BxTxD


def _computed(layer, x_BxTxD, bias_Bx1x1xT):
    return layer.block(x_BxTxD, bias_Bx1x1xT)


class _ScanBody(nn.Module):
    cfg: Wav2Vec2Config
    deterministic: bool

    @nn.compact
    def __call__(self, x_BxTxD, bias_Bx1x1xT):
        return EncoderLayer(self.cfg, self.deterministic, name="layer")(x_BxTxD, bias_Bx1x1xT), None


def _layer_class(cfg: Wav2Vec2Config, cls):
    if cfg.remat == "none":
        return cls
    return nn.remat(cls, policy=_REMAT_POLICIES[cfg.remat], prevent_cse=not cfg.scan_layers)


class Encoder(nn.Module):
    """hidden [B, T, D], paddings [B, T] -> contextual hidden [B, T, D]."""

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, x_BxTxD, paddings_BxT, deterministic: bool):
        cfg = self.cfg
        valid_BxTx1 = (1.0 - paddings_BxT)[..., None].astype(x_BxTxD.dtype)
        x_BxTxD = x_BxTxD * valid_BxTx1
        posemb = get_posemb(cfg)
        if posemb is not None:
            x_BxTxD = x_BxTxD + posemb(x_BxTxD).astype(x_BxTxD.dtype)
        if not cfg.do_stable_layer_norm:
            x_BxTxD = layer_norm(cfg, "layer_norm")(x_BxTxD).astype(cfg.dtype)
        x_BxTxD = Dropout(cfg.hidden_dropout)(x_BxTxD, deterministic=deterministic)
        x_BxTxD = _constrain(x_BxTxD)
        bias_Bx1x1xT = attention_bias(
            paddings_BxT, cfg.attention_chunk_frames, cfg.attention_left_chunks
        )
        if cfg.scan_layers:
            body = nn.scan(
                _layer_class(cfg, _ScanBody),
                variable_axes={"params": 0, "intermediates": 0},
                split_rngs={"params": True, "dropout": True},
                in_axes=nn.broadcast,
                length=cfg.num_hidden_layers,
                metadata_params={nn.PARTITION_NAME: axes.LAYERS},
            )
            x_BxTxD, _ = body(cfg, deterministic, name="layers")(x_BxTxD, bias_Bx1x1xT)
        else:
            layer_cls = _layer_class(cfg, EncoderLayer)
            for i in range(cfg.num_hidden_layers):
                x_BxTxD = layer_cls(cfg, deterministic, name=f"layers_{i}")(x_BxTxD, bias_Bx1x1xT)
        if cfg.do_stable_layer_norm:
            x_BxTxD = layer_norm(cfg, "layer_norm")(x_BxTxD).astype(cfg.dtype)
        return x_BxTxD
