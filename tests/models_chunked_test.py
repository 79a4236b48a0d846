"""Chunked attention (models/chunking.py): no output of chunk k depends on audio past the
end of chunk k (plus the CNN's 80-sample look-ahead), nor, with a left limit, on audio
before the left reach that `dependency_samples` states; both bounds are tight."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from w2v2jax.errors import ConfigError
from w2v2jax.models import POSEMBS, Wav2Vec2ForCTC, get_config, init_params
from w2v2jax.models.chunking import (
    attention_bias,
    dependency_samples,
    lookahead_samples,
)

CHUNK = 4
HOP = 320


def _model(posemb, left=-1, **kw):
    cfg = get_config(
        "micro",
        posemb=posemb,
        feat_extract_norm="layer",
        attention_chunk_frames=CHUNK,
        attention_left_chunks=left,
        **kw,
    )
    params = init_params(cfg, jax.random.PRNGKey(0))
    fn = jax.jit(Wav2Vec2ForCTC(cfg).apply)
    return cfg, lambda a: np.asarray(fn({"params": params}, a[None], np.zeros_like(a[None]))[0][0])


def _audio(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def _changed(audio, lo, hi, seed=1):
    out = audio.copy()
    out[lo:hi] = 5.0 * np.random.default_rng(seed).standard_normal(hi - lo)
    return out


@pytest.mark.parametrize("posemb", POSEMBS)
def test_no_output_depends_on_audio_past_its_chunk(posemb):
    cfg, run = _model(posemb)
    audio = _audio(HOP * 24 + 80)
    base = run(audio)
    assert lookahead_samples(cfg) == 80
    for k in (0, 2, 4):
        end = dependency_samples(cfg, k)[1]
        assert end == HOP * CHUNK * (k + 1) + 80
        frames = (k + 1) * CHUNK
        after = run(_changed(audio, end, len(audio)))
        np.testing.assert_array_equal(after[:frames], base[:frames])
        # Tight: the last sample of the look-ahead reaches the chunk's last frame.
        touched = run(_changed(audio, end - 1, end))
        assert not np.allclose(touched[frames - 1], base[frames - 1], atol=1e-4)


@pytest.mark.parametrize("posemb", POSEMBS)
def test_left_limit_bounds_what_a_chunk_sees(posemb):
    """Two layers, one left chunk: chunk k sees frames from chunk k - 2 on (its keys of
    chunk k - 1 saw chunk k - 2), and the conv embedding 8 frames further back."""
    cfg, run = _model(posemb, left=1)
    audio = _audio(HOP * 40 + 80)
    base = run(audio)
    back = cfg.num_conv_pos_embeddings // 2 if posemb == "conv" else 0
    k = 7
    first, _ = dependency_samples(cfg, k)
    assert first == HOP * ((k - 2) * CHUNK - back)
    rows = slice(k * CHUNK, (k + 1) * CHUNK)
    before = run(_changed(audio, 0, first))
    np.testing.assert_array_equal(before[rows], base[rows])
    # Tight: the first sample of the reach changes the chunk (the conv embedding's farthest
    # tap, by ~1e-6 in this random model: any change shows the dependence, as outputs that
    # do not depend on a sample stay bit-identical above).
    touched = run(_changed(audio, first, first + HOP))
    assert not np.array_equal(touched[rows], base[rows])


def test_unlimited_left_context_reaches_the_start():
    cfg, run = _model("rope")
    audio = _audio(HOP * 40 + 80)
    assert dependency_samples(cfg, 9)[0] == 0
    a, b = run(audio), run(_changed(audio, 0, HOP))
    assert not np.allclose(a[-CHUNK:], b[-CHUNK:], atol=1e-5)


@pytest.mark.parametrize("posemb", ["conv", "rope"])
def test_valid_frames_ignore_padding_under_chunking(posemb):
    """A stream's last, partial chunk is padded: the offline pass must not care."""
    cfg = get_config(
        "micro", posemb=posemb, feat_extract_norm="layer", attention_chunk_frames=CHUNK
    )
    params = init_params(cfg, jax.random.PRNGKey(0))
    fn = jax.jit(Wav2Vec2ForCTC(cfg).apply)
    audio = _audio(HOP * 21 + 80)
    short, _ = fn({"params": params}, audio[None], np.zeros((1, len(audio)), np.float32))
    padded = np.concatenate([audio, 3.0 * _audio(HOP * 9, seed=2)])
    pads = np.zeros((1, len(padded)), np.float32)
    pads[0, len(audio) :] = 1.0
    long, p = fn({"params": params}, padded[None], pads)
    n = short.shape[1]
    assert int((1 - p[0]).sum()) == n
    np.testing.assert_allclose(long[0, :n], short[0], atol=1e-5)


def test_block_causal_bias():
    pads = jnp.zeros((1, 6)).at[0, 5].set(1.0)
    blocked = np.asarray(attention_bias(pads, 2, 1)[0, 0]) < 0
    expect = np.array(
        [
            [0, 0, 1, 1, 1, 1],
            [0, 0, 1, 1, 1, 1],
            [0, 0, 0, 0, 1, 1],
            [0, 0, 0, 0, 1, 1],
            [1, 1, 0, 0, 0, 1],
            [1, 1, 0, 0, 0, 1],
        ],
        bool,
    )
    np.testing.assert_array_equal(blocked, expect)
    assert attention_bias(pads).shape == (1, 1, 1, 6)


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"attention_chunk_frames": 8}, "feat_extract_norm='group'"),
        ({"attention_chunk_frames": -1, "feat_extract_norm": "layer"}, "attention_chunk"),
        ({"attention_chunk_frames": True, "feat_extract_norm": "layer"}, "whole number"),
        ({"attention_left_chunks": 2}, "attention_left_chunks=2"),
        ({"attention_left_chunks": -2, "attention_chunk_frames": 4}, "-1"),
    ],
)
def test_bad_chunking_is_a_config_error(fields, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        get_config("micro", **fields)
