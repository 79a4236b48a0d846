"""w2v2jax/streaming.py: a chunked model's stream equals the offline pass whatever the push
sizes; bad pushes are clear errors that leave the stream usable; a long stream neither
grows its caches nor recompiles (the deterministic side of a flat cost per push)."""

import types

import jax
import numpy as np
import pytest

from w2v2jax import streaming
from w2v2jax.data.tokenizer import CharTokenizer
from w2v2jax.errors import AudioError, InputError
from w2v2jax.models import Wav2Vec2ForCTC, get_config, init_params
from w2v2jax.streaming import Stream

TOK = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz'"))
CHUNK = 4


def _model(**kw):
    fields = {"feat_extract_norm": "layer", "attention_chunk_frames": CHUNK}
    cfg = get_config("micro", vocab_size=TOK.vocab_size, **{**fields, **kw})
    return cfg, init_params(cfg, jax.random.PRNGKey(0), num_samples=3000)


def _offline(cfg, params, audio):
    logits, _ = jax.jit(Wav2Vec2ForCTC(cfg).apply)(
        {"params": params}, audio[None], np.zeros((1, len(audio)), np.float32)
    )
    return np.asarray(jax.nn.log_softmax(logits, -1)[0])


def _audio(n, seed=0):
    return (0.3 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _sizes(total, seed):
    """Random push sizes: runs of single samples, small and large pushes."""
    rng, out = np.random.default_rng(seed), []
    while sum(out) < total:
        kind = rng.integers(3)
        if kind == 0:
            out += [1] * int(rng.integers(1, 400))
        else:
            out.append(int(rng.integers(2, 60) if kind == 1 else rng.integers(300, 4000)))
    return out


def _push_all(stream, audio, sizes):
    pos, texts = 0, []
    for n in sizes:
        texts.append(stream.push(audio[pos : pos + n]))
        pos += n
    return texts


@pytest.mark.parametrize(
    "posemb, left, seed", [("conv", 1, 0), ("rope", -1, 1), ("sinusoidal", 0, 2)]
)
def test_stream_equals_offline_whatever_the_push_sizes(posemb, left, seed):
    cfg, params = _model(posemb=posemb, attention_left_chunks=left)
    audio = _audio(320 * 47 + 80 + 211, seed)
    offline = _offline(cfg, params, audio)
    stream = Stream(params, cfg, TOK)
    assert stream.exact
    texts = _push_all(stream, audio, _sizes(len(audio), seed))
    text = stream.finish()
    ours = stream.log_probs()
    assert ours.shape == offline.shape
    np.testing.assert_allclose(ours, offline, atol=1e-4)
    # The hypotheses are the best path's text, growing; the final one is decode's.
    ids = [int(i) for i in offline.argmax(-1)]
    assert text == TOK.decode(ids, collapse_repeats=True)
    assert all(text.startswith(t) for t in texts)


def test_int16_is_scaled_like_floats():
    cfg, params = _model()
    pcm = (np.random.default_rng(0).standard_normal(320 * 13) * 3000).astype(np.int16)
    a, b = Stream(params, cfg, TOK), Stream(params, cfg, TOK)
    a.push(pcm)
    b.push(pcm.astype(np.float32) / 32768)
    a.finish(), b.finish()
    np.testing.assert_allclose(a.log_probs(), b.log_probs(), atol=1e-6)
    assert len(a.log_probs()) == 12


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN or Inf at sample 1"),
        (np.array([np.inf] * 5), "NaN or Inf"),
        (np.zeros((800, 2), np.float32), "2 channels"),
        (np.zeros((2, 800), np.int16), "2 channels"),
        (np.zeros(800, np.int32), "int32"),
        (np.zeros(800, bool), "bool"),
        (np.zeros(800, np.complex64), "complex64"),
        (np.zeros((2, 2, 2), np.float32), "1-D"),
    ],
)
def test_bad_pushes_are_clear_errors_and_the_stream_goes_on(bad, words):
    cfg, params = _model()
    audio = _audio(320 * 9 + 80)
    clean = Stream(params, cfg, TOK)
    clean.push(audio)
    stream = Stream(params, cfg, TOK)
    stream.push(audio[:1000])
    with pytest.raises(AudioError, match=words):
        stream.push(bad)
    stream.push(audio[1000:])
    assert stream.finish() == clean.finish()
    np.testing.assert_array_equal(stream.log_probs(), clean.log_probs())


def test_empty_and_short_streams():
    cfg, params = _model()
    stream = Stream(params, cfg, TOK)
    assert stream.finish() == ""
    assert stream.log_probs().shape == (0, TOK.vocab_size)
    assert stream.finish() == ""  # again: the same
    with pytest.raises(InputError, match="after finish"):
        stream.push(np.zeros(10, np.float32))
    short = Stream(params, cfg, TOK)
    assert short.push([]) == ""  # an empty push, and a plain list of floats
    assert short.push([0.0] * 399) == ""  # less than one frame
    assert short.finish() == ""
    assert short.log_probs().shape[0] == 0
    one = Stream(params, cfg, TOK)
    one.push(np.zeros(400, np.float32))
    one.finish()
    assert one.log_probs().shape[0] == 1


def test_a_long_stream_keeps_its_shapes_and_compiles():
    """The deterministic side of a flat cost per push: with a left limit the caches and
    the compiled steps stay the same however long the stream (wall time per push is
    benchmarks/stream_cost.py's to measure)."""
    cfg, params = _model(attention_left_chunks=2, posemb="rope")
    stream = Stream(params, cfg, TOK)
    piece = _audio(320 * CHUNK * 5)
    stream.push(piece)
    shapes = stream.cache_shapes()
    compiled = streaming.chunk_log_probs._cache_size()
    for _ in range(40):
        stream.push(piece)
    assert stream.cache_shapes() == shapes
    assert streaming.chunk_log_probs._cache_size() == compiled
    assert stream.cache_frames == 2 * CHUNK


def test_unlimited_left_context_grows_by_doubling():
    cfg, params = _model(posemb="none")
    stream = Stream(params, cfg, TOK)
    sizes = set()
    for _ in range(30):
        stream.push(_audio(320 * CHUNK))
        sizes.add(stream.cache_frames)
    assert sorted(sizes) == [0, 4, 8, 16, 32, 64, 128]  # 0: the first push makes no chunk


def test_learned_table_end_is_an_error_before_the_audio_is_taken():
    cfg, params = _model(posemb="learned", max_positions=10)
    stream = Stream(params, cfg, TOK)
    stream.push(_audio(320 * 9 + 80))
    with pytest.raises(InputError, match="learned positional table"):
        stream.push(_audio(320 * 2))
    stream.push(_audio(100))
    stream.finish()
    assert stream.log_probs().shape[0] == 9


def test_full_attention_streams_by_window_and_says_so():
    cfg = get_config("micro", vocab_size=TOK.vocab_size)  # group-norm CNN, full attention
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = _audio(16000 * 3 + 123)
    holder = types.SimpleNamespace(params=params, cfg=cfg, tok=TOK)
    stream = Stream.of(holder, window_s=1.5, step_s=0.4, context_s=0.3)
    assert not stream.exact
    _push_all(stream, audio, _sizes(len(audio), 3))
    stream.finish()
    offline = _offline(cfg, params, audio)
    assert stream.log_probs().shape == offline.shape
    assert np.isfinite(stream.log_probs()).all()
    assert streaming.window_log_probs._cache_size() >= 1
    with pytest.raises(InputError, match="window_s"):
        Stream(params, cfg, TOK, window_s=0.5, step_s=0.4, context_s=0.3)


def test_transcriber_stream_is_a_window_stream_for_a_full_attention_run(tmp_path):
    """Transcriber.stream() hands the workdir's model to Stream; a full-attention model
    streams by re-computation and says it is not exact."""
    cfg, params = _model(attention_chunk_frames=0)
    transcriber = types.SimpleNamespace(params=params, cfg=cfg, tok=TOK)
    from w2v2jax.inference import Transcriber

    stream = Transcriber.stream(transcriber)
    assert not stream.exact and stream.finish() == ""


def test_a_chunked_model_is_not_exported_to_transformers():
    from w2v2jax.convert.hf import hf_config_dict
    from w2v2jax.errors import CheckpointError

    cfg, _ = _model()
    with pytest.raises(CheckpointError, match="attention_chunk_frames=4: transformers has no"):
        hf_config_dict(cfg)
