"""A chunked model's forward pass one chunk at a time, with caches: what a stream runs.

For a model with `attention_chunk_frames = c > 0` (and the layer-norm CNN), `step` on the
samples of chunk j gives the logits that Wav2Vec2ForCTC gives chunk j's frames over the
whole audio (tests/streaming_test.py checks 1e-4; only the order of float sums differs):

- CNN: each conv layer keeps the inputs its next window still needs (k - s of them once
  primed: 5 samples, then 1 value of each later layer for the standard stack), so each
  chunk runs the CNN on its own hop * c new samples only. `prime` feeds the first
  field - hop samples (80), which make no frame yet.
- conv positional embedding: the K // 2 masked frames before the chunk ("left").
- attention: each layer's keys and values of the last M frames (M = L c for
  attention_left_chunks = L; a caller grows M as the stream grows when L = -1), with
  `kv_paddings` 1.0 on slots not yet filled, so every shape is fixed.
- positions: `start` (frames so far) offsets RoPE and the learned table; sinusoidal rows
  come from the host (`sinusoid_table(c, D, start=...)`), as the offline pass computes
  its table in float64 numpy.

A chunk with fewer than c frames (the end of a stream) is padded to c with `paddings`,
which the offline pass treats exactly as frames past the audio's end.
Legend: B batch, S samples, C frames of one chunk, D model width, M cached frames,
L layers, H heads, K head dim, P frames of posemb context, V vocab.
"""

import flax.linen as nn
import jax.numpy as jnp

from w2v2jax.errors import ConfigError
from w2v2jax.models.chunking import NEG, posemb_reach
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.feature_encoder import ConvLayer, FeatureProjection
from w2v2jax.models.positional import get_posemb
from w2v2jax.models.transformer import EncoderLayer, layer_norm


def check_streamable(cfg: Wav2Vec2Config) -> None:
    if not cfg.chunked:
        raise ConfigError(
            "attention_chunk_frames=0: a full-attention model's frames depend on all of the "
            "audio, so it has no exact incremental pass; train with attention_chunk_frames "
            "> 0 or stream it by re-computation over a sliding window"
        )
    if cfg.scan_layers:
        raise ConfigError("scan_layers=True: unstack the layers first (models.to_layout)")


def init_state(cfg: Wav2Vec2Config, cache_frames: int, batch: int = 1) -> dict:
    """The caches of a stream that has seen nothing (before `prime`)."""
    check_streamable(cfg)
    channels = (1, *cfg.conv_dim[:-1])
    h, k, d = cfg.num_attention_heads, cfg.head_dim, cfg.hidden_size
    kv = jnp.zeros((cfg.num_hidden_layers, batch, cache_frames, h, k), cfg.dtype)
    return {
        "conv": tuple(jnp.zeros((batch, 0, ch), cfg.dtype) for ch in channels),
        "left": jnp.zeros((batch, posemb_reach(cfg)[0], d), cfg.dtype),
        "keys": kv,
        "values": kv,
        "kv_paddings": jnp.ones((batch, cache_frames), jnp.float32),
        "start": jnp.zeros((), jnp.int32),
    }


def grow_cache(state: dict, cache_frames: int) -> dict:
    """The same state with room for `cache_frames` keys: empty slots go first (oldest)."""
    extra = cache_frames - state["kv_paddings"].shape[1]
    kv = [(0, 0)] * 5
    kv[2] = (extra, 0)
    return {
        **state,
        "keys": jnp.pad(state["keys"], kv),
        "values": jnp.pad(state["values"], kv),
        "kv_paddings": jnp.pad(state["kv_paddings"], ((0, 0), (extra, 0)), constant_values=1.0),
    }


def conv_stack(cfg: Wav2Vec2Config, params_fe, caches, samples_BxS):
    """The CNN on new samples: (frames [B, T, C] the new samples complete, new caches)."""
    x = samples_BxS[..., None].astype(cfg.dtype)
    new = []
    for i, cache in enumerate(caches):
        x = jnp.concatenate([cache, x], axis=1)
        k, s = cfg.conv_kernel[i], cfg.conv_stride[i]
        m = (x.shape[1] - k) // s + 1 if x.shape[1] >= k else 0
        new.append(x[:, m * s :])
        if m == 0:
            x = jnp.zeros((x.shape[0], 0, cfg.conv_dim[i]), cfg.dtype)
        else:
            layer = ConvLayer(cfg, i)
            x = layer.apply({"params": params_fe[f"conv_layers_{i}"]}, x)
    return x, tuple(new)


def prime(cfg: Wav2Vec2Config, params, state: dict, samples_BxR) -> dict:
    """Feeds the first receptive_field - hop samples, which complete no frame."""
    fe = params["wav2vec2"]["feature_extractor"]
    feats, conv = conv_stack(cfg, fe, state["conv"], samples_BxR)
    if feats.shape[1]:
        raise ValueError(f"prime takes fewer samples than one frame, not {samples_BxR.shape}")
    return {**state, "conv": conv}


def step(cfg: Wav2Vec2Config, params, state: dict, samples_BxS, paddings_BxC, rows_CxD=None):
    """One chunk: (logits [B, C, V] float32, new state). samples: hop * C new samples;
    paddings: 1.0 on frames past the audio's end; rows_CxD: the sinusoidal rows."""
    w = params["wav2vec2"]
    feats_BxCxF, conv = conv_stack(cfg, w["feature_extractor"], state["conv"], samples_BxS)
    if feats_BxCxF.shape[1] != cfg.attention_chunk_frames:
        raise ValueError(
            f"{samples_BxS.shape[1]} samples made {feats_BxCxF.shape[1]} frames, not one chunk"
        )
    x_BxCxD, _ = FeatureProjection(cfg).apply(
        {"params": w["feature_projection"]}, feats_BxCxF, True
    )
    x_BxCxD, cache = EncoderStep(cfg).apply(
        {"params": w["encoder"]}, x_BxCxD, paddings_BxC, state, rows_CxD
    )
    head = nn.Dense(cfg.vocab_size, dtype=cfg.dtype)
    logits_BxCxV = head.apply({"params": params["lm_head"]}, x_BxCxD)
    return logits_BxCxV.astype(jnp.float32), {**state, **cache, "conv": conv}


class EncoderStep(nn.Module):
    """Encoder (transformer.py) on one chunk with the caches; the same parameter names."""

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, x_BxCxD, paddings_BxC, state, rows_CxD=None):
        cfg = self.cfg
        start, c = state["start"], x_BxCxD.shape[1]
        x_BxCxD = x_BxCxD * (1.0 - paddings_BxC)[..., None].astype(x_BxCxD.dtype)
        new = {"start": start + c}
        posemb = get_posemb(cfg)
        if cfg.posemb == "conv":
            y = posemb(x_BxCxD, left_BxPxD=state["left"])
            seen = jnp.concatenate([state["left"], x_BxCxD.astype(state["left"].dtype)], 1)
            new["left"] = seen[:, seen.shape[1] - state["left"].shape[1] :]
        elif cfg.posemb == "learned":
            y = posemb(x_BxCxD, start=start)
        elif cfg.posemb == "sinusoidal":
            y = jnp.broadcast_to(jnp.asarray(rows_CxD, x_BxCxD.dtype), x_BxCxD.shape)
        if posemb is not None:
            x_BxCxD = x_BxCxD + y.astype(x_BxCxD.dtype)
        if not cfg.do_stable_layer_norm:
            x_BxCxD = layer_norm(cfg, "layer_norm")(x_BxCxD).astype(cfg.dtype)
        key_pads = jnp.concatenate([state["kv_paddings"], paddings_BxC], axis=1)
        bias_Bx1x1xK = jnp.where(key_pads[:, None, None, :] > 0, NEG, 0.0)
        keys, values = [], []
        for i in range(cfg.num_hidden_layers):
            layer = EncoderLayer(cfg, True, name=f"layers_{i}")
            kv = (state["keys"][i], state["values"][i])
            x_BxCxD, (k_BxKxHxK, v_BxKxHxK) = layer(x_BxCxD, bias_Bx1x1xK, kv, start)
            keys.append(k_BxKxHxK[:, c:])
            values.append(v_BxKxHxK[:, c:])
        if cfg.do_stable_layer_norm:
            x_BxCxD = layer_norm(cfg, "layer_norm")(x_BxCxD).astype(cfg.dtype)
        new.update(keys=jnp.stack(keys), values=jnp.stack(values), kv_paddings=key_pads[:, c:])
        return x_BxCxD, new
