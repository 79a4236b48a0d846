"""The Gumbel vector quantizer against direct numpy transcriptions of fairseq's and
transformers' formulas, and its straight-through training path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from w2v2jax.models import GumbelVectorQuantizer, get_config
from w2v2jax.models.quantizer import gumbel_softmax_hard

G, V, Q, C = 2, 8, 16, 32
CFG = get_config(
    "micro",
    num_codevector_groups=G,
    num_codevectors_per_group=V,
    codevector_dim=Q,
    conv_dim=(C,) * 7,
)


def setup(b=3, t=20, seed=0):
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((b, t, C)).astype(np.float32)
    counted = (rng.random((b, t)) < 0.5).astype(np.float32)
    quantizer = GumbelVectorQuantizer(CFG)
    params = nn.unbox(
        quantizer.init(jax.random.key(seed), feats, counted, temperature=2.0, deterministic=True)
    )["params"]
    return quantizer, params, feats, counted


def np_logits(params, feats):
    w = params["weight_proj"]
    return (feats @ np.asarray(w["kernel"]) + np.asarray(w["bias"])).reshape(*feats.shape[:2], G, V)


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def fairseq_ppl(probs_NxGxV):
    # gumbel_vector_quantizer.py: avg = probs.mean(0); exp(-sum(avg * log(avg + 1e-7))).sum()
    avg = probs_NxGxV.mean(0)
    return np.exp(-np.sum(avg * np.log(avg + 1e-7), -1)).sum()


def hf_ppl(probs_NxGxV):
    # modeling_wav2vec2.py _compute_perplexity: exp(-sum(xlogy(p, p))).sum()
    avg = probs_NxGxV.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(avg > 0, avg * np.log(avg), 0.0)
    return np.exp(-plogp.sum(-1)).sum()


def test_parameters_are_named_and_shaped_as_transformers():
    quantizer, params, feats, counted = setup()
    assert params["codevectors"].shape == (1, G * V, Q // G)
    assert params["weight_proj"]["kernel"].shape == (C, G * V)
    boxed = quantizer.init(jax.random.key(0), feats, counted, temperature=2.0, deterministic=True)
    specs = nn.get_partition_spec(boxed)["params"]
    assert tuple(specs["codevectors"]) == (None, "codevectors", "codevector_dim")
    assert tuple(specs["weight_proj"]["kernel"]) == ("conv_out", "codevectors")


def test_eval_picks_the_argmax_codewords_and_counts_only_counted_frames():
    quantizer, params, feats, counted = setup()
    out = quantizer.apply({"params": params}, feats, counted, temperature=2.0, deterministic=True)
    logits = np_logits(params, feats)
    codes = logits.argmax(-1)
    book = np.asarray(params["codevectors"]).reshape(G, V, Q // G)
    want = np.concatenate([book[g][codes[..., g]] for g in range(G)], -1)
    np.testing.assert_array_equal(out["quantized_BxTxQ"], want)
    np.testing.assert_array_equal(out["codes_BxTxG"], codes)
    sel = counted.astype(bool)
    hard = np.eye(V, dtype=np.float32)[codes][sel]
    soft = np_softmax(logits)[sel]
    np.testing.assert_allclose(out["code_perplexity"], fairseq_ppl(hard), rtol=1e-5)
    np.testing.assert_allclose(out["prob_perplexity"], fairseq_ppl(soft), rtol=1e-5)
    np.testing.assert_allclose(out["codevector_perplexity"], hf_ppl(hard), rtol=1e-5)
    # Frames that do not count do not move the perplexities.
    noisy = np.where(sel[..., None], feats, 100 * feats)
    out2 = quantizer.apply({"params": params}, noisy, counted, temperature=2.0, deterministic=True)
    for k in ("code_perplexity", "prob_perplexity", "codevector_perplexity"):
        np.testing.assert_allclose(out2[k], out[k], rtol=1e-6)


def test_training_is_a_hard_straight_through_gumbel_softmax():
    logits = jax.random.normal(jax.random.key(0), (50, V)) * 2
    key, tau = jax.random.key(1), 0.7
    probs, index = gumbel_softmax_hard(key, logits, tau)
    g = jax.random.gumbel(key, logits.shape)
    np.testing.assert_array_equal(index, jnp.argmax(logits + g, -1))
    np.testing.assert_allclose(probs, jax.nn.one_hot(index, V), atol=1e-6)
    w = jax.random.normal(jax.random.key(2), logits.shape)
    grad = jax.grad(lambda x: jnp.sum(w * gumbel_softmax_hard(key, x, tau)[0]))(logits)
    soft = jax.grad(lambda x: jnp.sum(w * jax.nn.softmax((x + g) / tau)))(logits)
    np.testing.assert_allclose(grad, soft, rtol=1e-5, atol=1e-6)


def test_training_perplexities_and_temperature_as_an_argument():
    quantizer, params, feats, counted = setup()

    @jax.jit
    def run(temperature, key):
        return quantizer.apply(
            {"params": params},
            feats,
            counted,
            temperature=temperature,
            deterministic=False,
            rngs={"gumbel": key},
        )

    out = run(2.0, jax.random.key(0))
    soft = np_softmax(np_logits(params, feats))[counted.astype(bool)]
    np.testing.assert_allclose(out["codevector_perplexity"], hf_ppl(soft), rtol=1e-5)
    np.testing.assert_allclose(out["prob_perplexity"], fairseq_ppl(soft), rtol=1e-5)
    # Every quantized frame is a concatenation of codewords (the forward is hard).
    book = np.asarray(params["codevectors"]).reshape(G, V, Q // G)
    codes = np.asarray(out["codes_BxTxG"])
    want = np.concatenate([book[g][codes[..., g]] for g in range(G)], -1)
    np.testing.assert_allclose(out["quantized_BxTxQ"], want, atol=1e-6)
    # A new temperature each step is a new value, not a new program; the draw is the rng's.
    run(0.5, jax.random.key(0))
    assert run._cache_size() == 1
    assert not np.array_equal(out["codes_BxTxG"], run(2.0, jax.random.key(1))["codes_BxTxG"])


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"codevector_dim": 15}, "codevector_dim=15 is not divisible"),
        ({"num_codevector_groups": 0}, "must be >= 1"),
        ({"contrastive_logits_temperature": 0.0}, "contrastive_logits_temperature"),
        ({"feature_grad_mult": -1.0}, "feature_grad_mult"),
        ({"feat_quantizer_dropout": 1.0}, "feat_quantizer_dropout"),
        ({"num_negatives": 0}, "num_negatives"),
    ],
)
def test_config_rejects_what_cannot_run(bad, match):
    from w2v2jax.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        get_config("micro", **bad)
