import jax
import jax.numpy as jnp
import optax
import pytest
from train_helpers import micro_config

from w2v2jax.train.optim import make_optimizer, make_schedule


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
