"""Wav2Vec2ForPreTraining: fairseq's samplers (properties), its terms against numpy
transcriptions of fairseq's code, feature_grad_mult, and the call's modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from hf_reference import batch

from w2v2jax.errors import ConfigError, InputError
from w2v2jax.models import (
    Wav2Vec2ForCTC,
    Wav2Vec2ForPreTraining,
    Wav2Vec2Model,
    get_config,
    init_params,
    pretraining_mask,
    same_count_mask,
    sample_negatives,
)

CFG = get_config(
    "micro",
    num_codevector_groups=2,
    num_codevectors_per_group=8,
    codevector_dim=16,
    proj_codevector_dim=12,
    num_negatives=5,
    mask_time_prob=0.5,
    mask_time_length=3,
)


def paddings(lengths, t):
    return (np.arange(t)[None, :] >= np.asarray(lengths)[:, None]).astype(np.float32)


def test_pretraining_mask_same_count_no_padding():
    pads = paddings([200, 150, 61, 200, 90, 33, 120, 177], 200)
    for seed in range(5):
        mask = np.asarray(pretraining_mask(jax.random.key(seed), jnp.asarray(pads), 0.65, 10, 2))
        counts = mask.sum(-1)
        assert (counts == counts[0]).all() and counts[0] >= 10
        assert not (mask & (pads > 0)).any()
    # The shortest row (33 frames) keeps its spans: roughly prob of it is masked.
    assert 0.3 * 33 < counts[0] <= 33


def test_same_count_mask_drops_masked_frames_only_and_uniformly():
    mask = np.zeros((2, 40), bool)
    mask[0, :30], mask[1, 5:15] = True, True
    kept = np.stack([np.asarray(same_count_mask(jax.random.key(i), mask)) for i in range(400)])
    assert (kept.sum(-1) == 10).all()
    assert not (kept & ~mask).any()
    np.testing.assert_array_equal(kept[:, 1], np.broadcast_to(mask[1], (400, 40)))
    share = kept[:, 0, :30].mean(0)  # each of the 30 frames kept 1/3 of the time
    assert np.abs(share - 1 / 3).max() < 0.1


def test_negatives_are_other_masked_frames_of_the_row_uniformly():
    t, k = 60, 100
    mask = np.zeros((3, t), bool)
    mask[0, [3, 4, 5, 20, 21, 22, 40, 41]] = True
    mask[1, 10:30] = True
    mask[2, 7] = True  # one masked frame: no distractor exists
    neg = np.asarray(sample_negatives(jax.random.key(0), jnp.asarray(mask), k))
    assert neg.shape == (3, t, k) and neg.dtype == np.int32
    for b in (0, 1):
        frames = np.flatnonzero(mask[b])
        for f in frames:
            assert np.isin(neg[b, f], frames).all(), (b, f)
            assert (neg[b, f] != f).all()
    assert (neg[2, 7] == 7).all()  # the positive itself: masked out as -inf downstream
    # Uniform over the 7 others: 8 frames x 100 draws, each other frame ~ 100 * 8 / 7 times.
    frames = np.flatnonzero(mask[0])
    hits = np.stack([(neg[0, frames] == f).sum() for f in frames])
    assert hits.sum() == 8 * k and np.abs(hits / (8 * k / 8) - 1).max() < 0.2


def init(cfg=CFG, seed=0, s=16000):
    audio = jnp.zeros((1, s))
    boxed = jax.jit(Wav2Vec2ForPreTraining(cfg).init)(jax.random.key(seed), audio, audio)
    return nn.unbox(boxed["params"]), boxed


def apply(cfg, params, audio, pads, **kw):
    return Wav2Vec2ForPreTraining(cfg).apply({"params": params}, audio, pads, **kw)


def test_names_and_logical_axes_of_the_new_parameters():
    params, boxed = init()
    assert set(params) == {"wav2vec2", "quantizer", "project_hid", "project_q"}
    assert params["project_hid"]["kernel"].shape == (64, 12)
    assert params["project_q"]["kernel"].shape == (16, 12)
    specs = nn.get_partition_spec(boxed)["params"]
    assert tuple(specs["project_hid"]["kernel"]) == ("embed", "proj")
    assert tuple(specs["project_q"]["kernel"]) == ("codevector_dim", "proj")
    assert tuple(specs["quantizer"]["codevectors"]) == (None, "codevectors", "codevector_dim")
    for spec in jax.tree.leaves(specs, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec)):
        assert isinstance(spec, jax.sharding.PartitionSpec)  # every parameter is annotated


def test_fairseq_terms_against_numpy():
    """logits as fairseq's compute_preds (gathered targets, cosine / 0.1, -inf where a
    negative equals its positive), the feature penalty as features.float().pow(2).mean()."""
    params, _ = init()
    audio, pads = batch([16000, 11000])
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 49), bool)
    mask[0, 5:25], mask[1, 2:22] = True, True
    neg = np.stack([rng.choice(np.flatnonzero(m), (49, 5)) for m in mask]).astype(np.int32)
    neg[0, 5, 0] = 5  # a negative equal to its positive
    out = apply(CFG, params, audio, pads, mask_time_BxT=mask, negatives_BxTxK=neg)
    x, y = np.asarray(out["projected_states"]), np.asarray(out["projected_quantized_states"])
    negs = np.stack([y[b][neg[b]] for b in range(2)])  # [B, T, K, P]
    targets = np.concatenate([y[:, :, None], negs], 2)
    cos = (x[:, :, None] * targets).sum(-1) / (
        np.linalg.norm(x, axis=-1)[..., None] * np.linalg.norm(targets, axis=-1)
    )
    want = cos / 0.1
    want[:, :, 1:][(y[:, :, None] == negs).all(-1)] = -np.inf
    got = np.asarray(out["logits_BxTxK1"])
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    assert np.isneginf(got[0, 5, 1])
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5, atol=1e-5)
    lsm = got - np.log(np.exp(got - got.max(-1, keepdims=True)).sum(-1, keepdims=True))
    lsm -= got.max(-1, keepdims=True)
    np.testing.assert_allclose(out["contrastive_loss"], -lsm[..., 0][mask].sum(), rtol=1e-5)
    conv = Wav2Vec2Model(CFG).apply({"params": params["wav2vec2"]}, audio, pads)["conv_features"]
    np.testing.assert_allclose(out["features_penalty"], np.mean(np.square(conv)), rtol=1e-6)
    assert float(out["num_masked"]) == 40.0


def _grads(g, params, audio, pads):
    cfg = CFG.replace(feature_grad_mult=g)
    keys = jax.random.split(jax.random.key(1), 3)
    rngs = {"mask": keys[0], "dropout": keys[1], "gumbel": keys[2]}

    def loss(p):
        out = apply(cfg, p, audio, pads, deterministic=False, rngs=rngs)
        return out["contrastive_loss"] + out["diversity_loss"] + out["features_penalty"]

    return jax.jit(jax.value_and_grad(loss))(params)


def test_feature_grad_mult_scales_the_cnn_gradient_by_exactly_g():
    params, _ = init()
    audio, pads = batch([8000, 6000])
    (l1, g1), (lh, gh), (lq, gq) = (_grads(g, params, audio, pads) for g in (1.0, 0.5, 0.25))
    assert float(l1) == float(lh) == float(lq)  # the forward is untouched

    def cnn(t):
        return t["wav2vec2"]["feature_extractor"]

    def rest(t):
        return {
            **t,
            "wav2vec2": {k: v for k, v in t["wav2vec2"].items() if k != "feature_extractor"},
        }

    # 0.25 against 0.5: one program, one constant apart; a power of two scales exactly.
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, 0.5 * b), cnn(gq), cnn(gh))
    # Against 1.0 (no multiply in the program at all), up to XLA's different fusion.
    for a, b in zip(jax.tree.leaves(cnn(gh)), jax.tree.leaves(cnn(g1)), strict=True):
        np.testing.assert_allclose(a, 0.5 * b, rtol=1e-4, atol=1e-5 * float(np.abs(b).max()))
    jax.tree.map(np.testing.assert_array_equal, rest(gh), rest(g1))
    assert all(float(np.abs(x).max()) > 0 for x in jax.tree.leaves(cnn(g1)))
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(g1))  # -inf logits: no NaN


def test_feature_grad_mult_one_leaves_the_ctc_program_unchanged():
    audio = jnp.zeros((1, 4000))
    for g, present in ((1.0, False), (0.1, True)):
        cfg = get_config("micro", feature_grad_mult=g)
        params = init_params(cfg, jax.random.key(0), 4000)
        jaxpr = str(jax.make_jaxpr(Wav2Vec2ForCTC(cfg).apply)({"params": params}, audio, audio))
        assert ("name=scale_grad" in jaxpr) == present


def test_training_call_samples_fairseq_masks_and_is_seeded():
    params, _ = init()
    audio, pads = batch([16000, 9001, 4321])

    @jax.jit
    def run(key):
        ks = jax.random.split(key, 3)
        rngs = {"mask": ks[0], "dropout": ks[1], "gumbel": ks[2]}
        return apply(CFG, params, audio, pads, deterministic=False, rngs=rngs)

    out = run(jax.random.key(0))
    mask, valid = np.asarray(out["mask_time_BxT"]), np.asarray(out["paddings_BxT"]) == 0
    assert (mask.sum(-1) == mask.sum(-1)[0]).all() and mask.sum() > 0
    assert not (mask & ~valid).any()
    assert float(out["num_masked"]) == mask.sum()
    for k in ("contrastive_loss", "diversity_loss", "prob_perplexity", "features_penalty"):
        assert np.isfinite(float(out[k])), k
    np.testing.assert_array_equal(run(jax.random.key(0))["logits_BxTxK1"], out["logits_BxTxK1"])
    assert not np.array_equal(run(jax.random.key(1))["mask_time_BxT"], mask)


def test_eval_modes():
    params, _ = init()
    audio, pads = batch([16000, 9001])
    plain = apply(CFG, params, audio, pads)
    assert float(plain["num_masked"]) == 0 and float(plain["contrastive_loss"]) == 0
    assert float(plain["diversity_loss"]) == 0 and not plain["mask_time_BxT"].any()
    # With a "mask" stream, eval samples them as fairseq's validation does.
    sampled = apply(CFG, params, audio, pads, rngs={"mask": jax.random.key(0)})
    assert float(sampled["num_masked"]) > 0 and float(sampled["contrastive_loss"]) > 0
    with pytest.raises(InputError, match="without negatives_BxTxK"):
        apply(CFG, params, audio, pads, mask_time_BxT=np.asarray(sampled["mask_time_BxT"]))


def test_pretraining_needs_a_time_mask():
    with pytest.raises(ConfigError, match="mask_time_prob=0.0"):
        init(CFG.replace(mask_time_prob=0.0))
