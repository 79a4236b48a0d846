"""models/incremental.py: a chunked model run one chunk at a time with its caches gives
the offline pass's logits, for every positional scheme, left limit and LayerNorm order."""

import jax
import numpy as np
import pytest

from w2v2jax.errors import ConfigError
from w2v2jax.frames import hop_length, receptive_field
from w2v2jax.models import POSEMBS, Wav2Vec2ForCTC, get_config, incremental, init_params
from w2v2jax.models.positional import sinusoid_table

CHUNK = 4


def _chunks(cfg, params, audio, cache_frames):
    hop, c = hop_length(cfg), cfg.attention_chunk_frames
    primed = receptive_field(cfg) - hop
    state = incremental.init_state(cfg, cache_frames)
    state = incremental.prime(cfg, params, state, audio[None, :primed])
    step = jax.jit(incremental.step, static_argnums=0)
    out, pos = [], primed
    while pos + hop <= len(audio):
        seg = audio[pos : pos + hop * c]
        frames = min(c, len(seg) // hop)
        samples = np.zeros((1, hop * c), np.float32)
        samples[0, : len(seg)] = seg
        pads = np.zeros((1, c), np.float32)
        pads[0, frames:] = 1.0
        start = int(state["start"])
        rows = (
            sinusoid_table(c, cfg.hidden_size, start=start) if cfg.posemb == "sinusoidal" else None
        )
        logits, state = step(cfg, params, state, samples, pads, rows)
        out.append(np.asarray(logits[0, :frames]))
        pos += hop * c
    return np.concatenate(out), state


@pytest.mark.parametrize("posemb", POSEMBS)
@pytest.mark.parametrize("left", [-1, 1])
def test_chunk_by_chunk_equals_offline(posemb, left):
    cfg = get_config(
        "micro",
        posemb=posemb,
        feat_extract_norm="layer",
        attention_chunk_frames=CHUNK,
        attention_left_chunks=left,
        do_stable_layer_norm=left > 0,
    )
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = np.random.default_rng(0).standard_normal(320 * 23 + 80 + 150).astype(np.float32)
    offline, _ = jax.jit(Wav2Vec2ForCTC(cfg).apply)(
        {"params": params}, audio[None], np.zeros((1, len(audio)), np.float32)
    )
    cache = left * CHUNK if left >= 0 else 32
    ours, state = _chunks(cfg, params, audio, cache)
    assert ours.shape == offline.shape[1:]
    np.testing.assert_allclose(ours, offline[0], atol=1e-5)
    assert state["keys"].shape[2] == cache  # the caches keep their shapes


def test_full_attention_and_scanned_layers_are_refused():
    with pytest.raises(ConfigError, match="attention_chunk_frames=0"):
        incremental.init_state(get_config("micro"), 8)
    cfg = get_config("micro", feat_extract_norm="layer", attention_chunk_frames=4)
    with pytest.raises(ConfigError, match="scan_layers"):
        incremental.init_state(cfg.replace(scan_layers=True), 8)
