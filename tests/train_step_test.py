"""The shared training step: micro-batches and gradient accumulation (with CTC's loss)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_helpers import micro_config

from w2v2jax.models.config import get_config
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, init_params
from w2v2jax.train.objectives import ctc
from w2v2jax.train.optim import make_optimizer
from w2v2jax.train.step import make_train_step, micro_batches


def testmicro_batches_interleave_rows():
    batch = {"x": jnp.arange(8)}
    mbs = micro_batches(batch, 2)["x"]
    np.testing.assert_array_equal(mbs, [[0, 2, 4, 6], [1, 3, 5, 7]])


def test_gradient_accumulation_equals_full_batch():
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
    tx, sched = make_optimizer(micro_config("", warmup_steps=0, schedule="constant"))
    outs = []

    def loss(p, batch_, key, step):
        return ctc.loss_sums(model, p, batch_, key)

    for accum in (1, 2, 4):
        step = jax.jit(make_train_step(loss, tx, sched, grad_accum=accum))
        state = {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32)}
        outs.append(step(state, batch, jax.random.PRNGKey(1)))
    (s1, m1) = outs[0]
    for s, m in outs[1:]:
        assert float(m["loss"]) == pytest.approx(float(m1["loss"]), rel=1e-5)
        assert float(m["grad_norm"]) == pytest.approx(float(m1["grad_norm"]), rel=1e-4)
        diff = jax.tree.map(lambda x, y: float(jnp.abs(x - y).max()), s["params"], s1["params"])
        assert max(jax.tree.leaves(diff)) < 1e-5
