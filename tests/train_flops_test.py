import jax
import jax.numpy as jnp
import pytest

from w2v2jax.models.config import get_config
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, init_params
from w2v2jax.train import flops


@pytest.mark.parametrize("size", ["tiny", "base"])
def test_analytic_forward_flops_match_xla_count(size):
    """The posts' arithmetic (convs, projections, attention) against XLA's own count."""
    cfg = get_config(size, vocab_size=32)
    params = jax.eval_shape(lambda: init_params(cfg, jax.random.PRNGKey(0)))
    audio = jax.ShapeDtypeStruct((1, 64000), jnp.float32)
    lowered = jax.jit(Wav2Vec2ForCTC(cfg).apply).lower({"params": params}, audio, audio)
    cost = lowered.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    ours = flops.forward_flops(cfg, 64000)
    # XLA also counts norms, activations, softmax and the padding mask: a few % more.
    assert 0.85 < ours / cost["flops"] < 1.05


def test_mfu_needs_a_known_peak():
    cfg = get_config("tiny")
    assert flops.mfu(cfg, (8, 32000), 8, 1.0, override=0.0) is None  # a CPU has no entry
    value = flops.mfu(cfg, (8, 32000), 8, 1.0, override=1e12)
    assert value == pytest.approx(flops.train_step_flops(cfg, (8, 32000), 8) / 1e12 / 8)
