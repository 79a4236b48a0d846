"""The same training on any mesh: 8 CPU devices (conftest sets XLA_FLAGS).

Losses agree to 1e-5 relative: sharded reductions sum in another order, and AdamW's first
updates (close to lr * sign(g)) carry the float32 rounding of near-zero gradients forward.
"""

import jax
import numpy as np
import pytest
from train_helpers import micro_config

from w2v2jax.errors import ConfigError
from w2v2jax.train import loop, sharding
from w2v2jax.train.metrics import read_metrics

MESHES = {"8x1x1": (8, 1, 1), "2x2x2": (2, 2, 2), "1x8x1": (1, 8, 1)}


def _config(data_dir, mesh, **kw):
    d, f, t = mesh
    return micro_config(data_dir, **{"mesh.data": d, "mesh.fsdp": f, "mesh.tensor": t}, **kw)


def _losses(wd):
    return {r["step"]: r["loss"] for r in read_metrics(wd) if "tokens" in r}


@pytest.fixture(scope="module")
def single_device_losses(tiny_corpus, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("single"))
    c = _config(tiny_corpus, (1, 1, 1), total_steps=3, eval_splits=())
    loop.run(c, wd, devices=jax.devices()[:1])
    return _losses(wd)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MESHES))
def test_mesh_gives_single_device_losses(name, tiny_corpus, tmp_path, single_device_losses):
    assert jax.device_count() == 8
    c = _config(tiny_corpus, MESHES[name], total_steps=3, eval_splits=())
    trainer = loop.Trainer(c, str(tmp_path))
    trainer.run()
    got = _losses(str(tmp_path))
    assert sorted(got) == [1, 2, 3]
    for step, value in single_device_losses.items():
        assert got[step] == pytest.approx(value, rel=1e-5), (name, step)
    # Parameters are really split: look at the shard shapes.
    q = trainer.state["params"]["wav2vec2"]["encoder"]["layers_0"]["attention"]["q_proj"]["kernel"]
    ffn = trainer.state["params"]["wav2vec2"]["encoder"]["layers_0"]["feed_forward"]
    _d, f, t = MESHES[name]
    assert q.sharding.shard_shape(q.shape) == (64 // f, 64 // t)
    w = ffn["intermediate_dense"]["kernel"]
    assert w.sharding.shard_shape(w.shape) == (64 // f, 128 // t)
    mu = trainer.state["opt_state"][1][0].mu  # adamw's first moment follows the params
    mu_q = mu["wav2vec2"]["encoder"]["layers_0"]["attention"]["q_proj"]["kernel"]
    assert mu_q.sharding.shard_shape(mu_q.shape) == (64 // f, 64 // t)


@pytest.mark.slow
def test_checkpoint_from_one_mesh_continues_on_another(tiny_corpus, tmp_path):
    ref, moved = str(tmp_path / "ref"), str(tmp_path / "moved")
    # A constant schedule, so that stopping at step 2 and extending to 4 changes nothing.
    kw = {"eval_splits": (), "schedule": "constant"}
    loop.run(_config(tiny_corpus, (2, 2, 2), total_steps=4, **kw), ref)
    loop.run(_config(tiny_corpus, (2, 2, 2), total_steps=2, **kw), moved)
    loop.run(_config(tiny_corpus, (8, 1, 1), total_steps=4, **kw), moved)
    a, b = _losses(ref), _losses(moved)
    assert sorted(b) == [1, 2, 3, 4]
    for step in (3, 4):
        assert b[step] == pytest.approx(a[step], rel=1e-5)


def test_mesh_that_does_not_divide_devices(tiny_corpus, tmp_path):
    with pytest.raises(ConfigError, match="does not divide the 8 devices"):
        loop.Trainer(_config(tiny_corpus, (3, 1, 1)), str(tmp_path))
    with pytest.raises(ConfigError, match="uses 4 of 8 devices"):
        loop.Trainer(_config(tiny_corpus, (2, 2, 1)), str(tmp_path))


def test_batch_not_divisible_by_data_axes(tiny_corpus, tmp_path):
    with pytest.raises(ConfigError, match="batch_size=6 is not divisible by data x fsdp = 8"):
        loop.Trainer(_config(tiny_corpus, (4, 2, 1), batch_size=6), str(tmp_path))


def test_mesh_fill():
    assert sharding.mesh_shape({"data": -1, "fsdp": 2, "tensor": 1}, 8) == (4, 2, 1)
    np.testing.assert_equal(
        sharding.make_mesh({"data": 2, "fsdp": -1, "tensor": 2}).devices.shape, (2, 2, 2)
    )
