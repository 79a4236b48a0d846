import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from train_helpers import micro_config

from w2v2jax.train.error_rates import ErrorRates, edit_distance
from w2v2jax.train.optim import make_optimizer, make_schedule
from w2v2jax.train.step import _micro_batches


def _cfg(**kw):
    return micro_config("", **kw)


def test_tri_stage_schedule_shape():
    c = _cfg(
        schedule="tri_stage",
        total_steps=100,
        learning_rate=1.0,
        final_lr_ratio=0.05,
        tri_stage=(0.1, 0.4, 0.5),
    )
    lr = make_schedule(c)
    assert float(lr(0)) == pytest.approx(0.01)
    assert float(lr(10)) == pytest.approx(1.0)
    assert float(lr(30)) == pytest.approx(1.0)
    assert float(lr(50)) == pytest.approx(1.0)
    assert float(lr(75)) == pytest.approx(0.05**0.5, rel=1e-4)
    assert float(lr(100)) == pytest.approx(0.05, rel=1e-4)


@pytest.mark.parametrize("name", ["cosine", "linear", "constant"])
def test_warmup_then_peak(name):
    lr = make_schedule(_cfg(schedule=name, total_steps=100, warmup_steps=10, learning_rate=2.0))
    assert float(lr(0)) == 0.0
    assert float(lr(10)) == pytest.approx(2.0)
    assert float(lr(99)) <= 2.0


def _params():
    return {
        "wav2vec2": {"feature_extractor": {"w": jnp.ones(3)}, "encoder": {"w": jnp.ones(3)}},
        "lm_head": {"w": jnp.ones(3)},
    }


def test_freezing_feature_encoder_and_transformer_for_n_steps():
    tx, _ = make_optimizer(
        _cfg(
            freeze_feature_encoder=True,
            freeze_transformer_steps=2,
            warmup_steps=0,
            schedule="constant",
            weight_decay=0.1,
        )
    )
    params = _params()
    state = tx.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    history = []
    for _ in range(3):
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        history.append(jax.tree.map(lambda x: float(x[0]), params))
    assert all(h["wav2vec2"]["feature_extractor"]["w"] == 1.0 for h in history)
    assert [h["wav2vec2"]["encoder"]["w"] == 1.0 for h in history] == [True, True, False]
    assert all(h["lm_head"]["w"] < 1.0 for h in history)


def test_micro_batches_interleave_rows():
    batch = {"x": jnp.arange(8)}
    mbs = _micro_batches(batch, 2)["x"]
    np.testing.assert_array_equal(mbs, [[0, 2, 4, 6], [1, 3, 5, 7]])


def test_edit_distance_and_rates():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["a", "b"], ["a", "b"]) == 0
    r = ErrorRates()
    r.add("one two", "one too")
    r.add("three", "three")
    assert r.cer == pytest.approx(1 / 12)
    assert r.wer == pytest.approx(1 / 3)


def test_gradient_accumulation_equals_full_batch():
    from w2v2jax.models.config import get_config
    from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, init_params
    from w2v2jax.train.step import make_train_step

    cfg = get_config(
        "tiny",
        conv_dim=(16,) * 7,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        mask_time_prob=0.0,
        vocab_size=8,
    )
    model = Wav2Vec2ForCTC(cfg)
    params = init_params(cfg, jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    b = 4
    audio = rng.standard_normal((b, 8000)).astype(np.float32)
    pads = np.zeros_like(audio)
    pads[1, 5000:] = 1.0
    labels = rng.integers(1, 8, (b, 5)).astype(np.int32)
    lpads = np.zeros(labels.shape, np.float32)
    lpads[2, 3:] = 1.0
    batch = {
        "audio": audio,
        "audio_paddings": pads,
        "labels": labels,
        "label_paddings": lpads,
        "valid": np.ones(b, np.float32),
    }
    tx, sched = make_optimizer(_cfg(warmup_steps=0, schedule="constant"))
    outs = []
    for accum in (1, 2, 4):
        step = jax.jit(make_train_step(model, tx, sched, grad_accum=accum))
        state = {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32)}
        outs.append(step(state, batch, jax.random.PRNGKey(1)))
    (s1, m1) = outs[0]
    for s, m in outs[1:]:
        assert float(m["loss"]) == pytest.approx(float(m1["loss"]), rel=1e-5)
        assert float(m["grad_norm"]) == pytest.approx(float(m1["grad_norm"]), rel=1e-4)
        diff = jax.tree.map(lambda x, y: float(jnp.abs(x - y).max()), s["params"], s1["params"])
        assert max(jax.tree.leaves(diff)) < 1e-5
