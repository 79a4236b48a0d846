"""Chunked (block-causal) attention: what a frame may see, so that a model streams exactly.

With `attention_chunk_frames = c > 0` the frames are cut into chunks of c (chunk j holds
frames [j c, (j + 1) c)); a frame of chunk j attends to the frames of chunks j - L .. j,
L = `attention_left_chunks` (-1: every earlier chunk), padded frames never. No frame's
output then depends on a frame past the end of its chunk:

- attention: the block-causal mask above, combined with the padding mask in one bias;
- positions: `rope`, `sinusoidal`, `learned` and `none` depend on no other frame. The conv
  embedding (128 taps: 64 frames back, 63 ahead) is chunk-limited: it keeps its taps into
  earlier frames, across chunk edges, and reads zeros past its chunk's end, as it does past
  an utterance's end. We chose this over a causal conv because it keeps each tap where the
  pretrained kernel put it: a causal conv with wav2vec 2.0's weights would place every
  frame's embedding 63 frames (1.26 s) late, while the chunk-limited one differs from the
  full-attention embedding only in the last 63 frames of each chunk, and only by the taps
  past the chunk's end (the same kind of truncation the model sees at an utterance's end);
- the layer-norm CNN is per window: frame t reads samples [hop t, hop t + field), 400 and
  320 for the standard stack, so chunk j's outputs need samples up to hop c (j + 1) +
  (field - hop): a look-ahead of 80 samples (5 ms) past the chunk's last hop. The group-norm
  CNN normalises over the whole input, so it cannot stream (the config refuses it).

Left context: a layer's keys of chunk j - L were themselves computed from chunks
j - 2L .., so after N layers chunk j depends on frames from chunk j - N L onward (minus the
conv embedding's 64 frames back); `dependency_samples` gives the exact sample range. A
stream caches each layer's keys and values of the last L chunks and is exact all the same,
since those were computed with the same mask when their chunk was new.

Legend: B batch, T frames (Q queries, K keys).
"""

import jax
import jax.numpy as jnp

from w2v2jax.frames import hop_length, receptive_field

NEG = float(jnp.finfo(jnp.float32).min)


def allowed_QxK(num_frames: int, chunk: int, left_chunks: int) -> jax.Array:
    """Bool [Q, K] over the same frames: query q may attend to key k."""
    q_chunk = (jnp.arange(num_frames) // chunk)[:, None]
    k_chunk = q_chunk.T
    ok = k_chunk <= q_chunk
    if left_chunks >= 0:
        ok = ok & (k_chunk >= q_chunk - left_chunks)
    return ok


def attention_bias(paddings_BxT: jax.Array, chunk: int = 0, left_chunks: int = -1) -> jax.Array:
    """Additive attention bias: [B, 1, 1, T] for full attention (chunk == 0), else
    [B, 1, T, T] with padded keys and keys outside the chunk window blocked.

    One `where`, never two added: two large negatives would sum to -inf, and a row with
    every key blocked (a padded query) would then turn NaN."""
    pad_Bx1x1xT = paddings_BxT[:, None, None, :] > 0
    if chunk == 0:
        return jnp.where(pad_Bx1x1xT, NEG, 0.0)
    blocked = pad_Bx1x1xT | ~allowed_QxK(paddings_BxT.shape[1], chunk, left_chunks)[None, None]
    return jnp.where(blocked, NEG, 0.0)


def lookahead_samples(cfg) -> int:
    """Samples past the end of a chunk's last hop that its outputs read (80 = 5 ms)."""
    return receptive_field(cfg) - hop_length(cfg)


def posemb_reach(cfg) -> tuple[int, int]:
    """(frames back, frames ahead) the positional scheme reads; (0, 0) but for `conv`."""
    if cfg.posemb != "conv":
        return 0, 0
    k = cfg.num_conv_pos_embeddings
    return k // 2, k - 1 - k // 2


def dependency_samples(cfg, chunk_index: int) -> tuple[int, int]:
    """[first, end): the only samples the outputs of chunk `chunk_index` depend on, for a
    chunked model (attention_chunk_frames > 0) over audio starting at sample 0."""
    c, left = cfg.attention_chunk_frames, cfg.attention_left_chunks
    hop = hop_length(cfg)
    end = hop * c * (chunk_index + 1) + lookahead_samples(cfg)
    if left < 0:
        return 0, end
    first_frame = (chunk_index - cfg.num_hidden_layers * left) * c - posemb_reach(cfg)[0]
    return hop * max(first_frame, 0), end
