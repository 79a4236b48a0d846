import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from hf_reference import SMALL as HF_SMALL

from w2v2jax.models.config import POSEMBS, get_config
from w2v2jax.models.masking import time_mask
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, init_params

SMALL = HF_SMALL


def _apply(cfg, params, audio, pads):
    return jax.jit(Wav2Vec2ForCTC(cfg).apply)({"params": params}, audio, pads)


@pytest.mark.parametrize("posemb", POSEMBS)
def test_layer_norm_variant_ignores_padded_samples(posemb):
    """Valid-frame outputs do not depend on what the padded samples hold (layer-norm CNN).

    The group-norm ("base") CNN normalises each channel over all samples, padding
    included, so it is padding-sensitive exactly as transformers' reference is.
    """
    cfg = get_config("large", **SMALL, posemb=posemb)
    params = init_params(cfg, jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((2, 16000)).astype(np.float32)
    pads = np.zeros_like(audio)
    pads[1, 9000:] = 1.0
    noisy = audio.copy()
    noisy[1, 9000:] = 100 * rng.standard_normal(7000)
    a, p = _apply(cfg, params, audio, pads)
    b, _ = _apply(cfg, params, noisy, pads)
    n = int((1 - p[1]).sum())
    assert 0 < n < p.shape[1]
    np.testing.assert_allclose(a[1, :n], b[1, :n], atol=1e-5)
    # The same samples declared valid do change the output: the check is not vacuous.
    c, _ = _apply(cfg, params, noisy, np.zeros_like(pads))
    assert not np.allclose(a[1, :n], c[1, :n], atol=1e-3)


def test_group_norm_variant_is_padding_sensitive():
    cfg = get_config("base", **SMALL)
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32)
    pads = np.zeros_like(audio)
    pads[0, 9000:] = 1.0
    noisy = audio.copy()
    noisy[0, 9000:] *= 100
    a, _p = _apply(cfg, params, audio, pads)
    b, _ = _apply(cfg, params, noisy, pads)
    assert not np.allclose(a[0, :5], b[0, :5], atol=1e-4)


def test_audio_shorter_than_one_frame_is_a_clear_error():
    cfg = get_config("tiny")
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = jnp.zeros((1, 399))
    with pytest.raises(ValueError, match="fewer than one frame.*400 samples"):
        _apply(cfg, params, audio, jnp.zeros_like(audio))


def test_learned_table_overflow_error_and_clip():
    cfg = get_config("tiny", posemb="learned", max_positions=10)
    params = init_params(cfg, jax.random.PRNGKey(0), num_samples=3000)
    audio = jnp.zeros((1, 16000))
    with pytest.raises(ValueError, match="learned positional table has 10 rows"):
        _apply(cfg, params, audio, jnp.zeros_like(audio))
    logits, _ = _apply(cfg.replace(learned_overflow="clip"), params, audio, jnp.zeros_like(audio))
    assert logits.shape[1] == 49 and np.isfinite(np.asarray(logits)).all()


def test_unknown_scheme_is_rejected():
    with pytest.raises(ValueError, match="posemb='alibi'"):
        get_config("tiny", posemb="alibi")


def test_time_mask_spans_respect_lengths_and_probability():
    pads = jnp.zeros((512, 200)).at[:, 150:].set(1.0)
    mask = np.asarray(time_mask(jax.random.PRNGKey(0), pads, 0.3, 10, 2))
    assert not mask[:, 150:].any()
    share = mask[:, :150].mean()
    assert 0.15 < share < 0.3  # overlapping spans cover somewhat less than prob
    assert (mask.sum(1) >= 10).all()  # min_masks=2 spans of 10 frames, at least one span


def test_training_mode_masks_and_drops_deterministically_by_rng():
    cfg = get_config("tiny", mask_time_prob=0.5, mask_feature_prob=0.2)
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = jax.random.normal(jax.random.PRNGKey(1), (2, 16000))
    pads = jnp.zeros_like(audio)
    model = Wav2Vec2ForCTC(cfg)

    @jax.jit
    def run_jit(key):
        rngs = {"dropout": key, "mask": jax.random.fold_in(key, 1)}
        return model.apply({"params": params}, audio, pads, deterministic=False, rngs=rngs)[0]

    def run(seed):
        return run_jit(jax.random.PRNGKey(seed))

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.allclose(run(0), run(5))


def test_layerdrop_keeps_shapes_static():
    cfg = get_config("tiny", layerdrop=0.5, scan_layers=True)
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = jnp.ones((1, 8000))
    f = jax.jit(
        lambda p, r: Wav2Vec2ForCTC(cfg).apply(
            {"params": p},
            audio,
            jnp.zeros_like(audio),
            deterministic=False,
            rngs={"dropout": r, "mask": r},
        )[0]
    )
    outs = [f(params, jax.random.PRNGKey(i)) for i in range(4)]
    assert all(o.shape == outs[0].shape for o in outs)


_NO_DROPOUT = {
    "hidden_dropout": 0.0,
    "activation_dropout": 0.0,
    "attention_dropout": 0.0,
    "final_dropout": 0.0,
}


@pytest.mark.parametrize("scan", [True, False])
def test_dropped_layers_are_skipped_not_computed(scan):
    """Layerdrop is a branch (XLA runs one side), and a dropped layer gets no gradient:
    with layerdrop 1 every layer's parameters have an exactly zero gradient, with 0 none."""
    audio = jax.random.normal(jax.random.PRNGKey(1), (2, 8000))
    grads, texts = {}, {}
    for p in (0.0, 1.0):
        cfg = get_config("micro", layerdrop=p, scan_layers=scan, mask_time_prob=0.0, **_NO_DROPOUT)
        params = init_params(cfg, jax.random.PRNGKey(0))

        def loss(params, rng, cfg=cfg):
            logits, _ = Wav2Vec2ForCTC(cfg).apply(
                {"params": params},
                audio,
                jnp.zeros_like(audio),
                deterministic=False,
                rngs={"dropout": rng, "mask": rng},
            )
            return jnp.sum(logits**2)

        grads[p] = jax.jit(jax.grad(loss))(params, jax.random.PRNGKey(2))["wav2vec2"]["encoder"]
        texts[p] = jax.jit(loss).lower(params, jax.random.PRNGKey(2)).as_text()
    layer_grads = {
        p: [
            np.abs(np.asarray(x)).max()
            for k, v in g.items()
            if k.startswith("layers")
            for x in jax.tree.leaves(v)
        ]
        for p, g in grads.items()
    }
    assert max(layer_grads[1.0]) == 0.0
    assert min(layer_grads[0.0]) > 0.0
    assert "stablehlo.case" in texts[1.0] or "stablehlo.if" in texts[1.0]
    assert "stablehlo.case" not in texts[0.0] and "stablehlo.if" not in texts[0.0]


def test_parameters_carry_logical_axis_names():
    cfg = get_config("tiny", scan_layers=True)
    audio = jnp.zeros((1, 4000))
    boxed = jax.eval_shape(Wav2Vec2ForCTC(cfg).init, jax.random.PRNGKey(0), audio, audio)
    specs = nn.get_partition_spec(boxed)["params"]
    layer = specs["wav2vec2"]["encoder"]["layers"]["layer"]
    assert tuple(layer["attention"]["q_proj"]["kernel"]) == ("layers", "embed", "heads")
    assert tuple(layer["feed_forward"]["intermediate_dense"]["kernel"]) == (
        "layers",
        "embed",
        "mlp",
    )
    assert tuple(specs["lm_head"]["kernel"]) == ("embed", "vocab")


def test_bfloat16_compute_keeps_float32_params_and_logits():
    cfg = get_config("large", **SMALL)
    params = init_params(cfg, jax.random.PRNGKey(0))
    audio = jax.random.normal(jax.random.PRNGKey(1), (2, 16000))
    pads = jnp.zeros_like(audio)
    l32, _ = _apply(cfg, params, audio, pads)
    l16, _ = _apply(cfg.replace(dtype="bfloat16"), params, audio, pads)
    assert l16.dtype == jnp.float32
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(params))
    scale = float(jnp.abs(l32).max())
    assert float(jnp.abs(l16 - l32).max()) < 0.05 * scale
    assert not np.allclose(l16, l32, atol=1e-6)  # it really computed in bf16
