"""Any objective through the shared run: a frame-energy regression (frame_regression.py)
trained by the same loop, sharded like the CTC runs, and resumed exactly after kill -9."""

import json
import os
import sys

import jax
import pytest
from frame_regression import FrameEnergy
from train_helpers import micro_config, run_killed_then_resumed

from w2v2jax.errors import ConfigError
from w2v2jax.train import loop, objectives
from w2v2jax.train.metrics import read_metrics

HERE = os.path.dirname(__file__)


def _config(data_dir, mesh=(1, 1, 1), **kw):
    d, f, t = mesh
    kw = {"mesh.data": d, "mesh.fsdp": f, "mesh.tensor": t, "objective": "frame_energy", **kw}
    return micro_config(data_dir, **kw)


def _losses(wd):
    return {r["step"]: r["loss"] for r in read_metrics(wd) if "audio_seconds" in r}


@pytest.fixture(scope="module")
def single(tiny_corpus, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("single"))
    c = _config(tiny_corpus, total_steps=6, eval_splits=("validation",))
    summary = loop.run(c, wd, devices=jax.devices()[:1], objective=FrameEnergy())
    return wd, summary


def test_the_loop_trains_another_objective(single):
    wd, summary = single
    got = _losses(wd)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert got[6] < got[1]
    assert summary["validation/frames"] > 0 and summary["validation/mse"] < got[1]
    assert not os.path.exists(os.path.join(wd, "vocab.json"))  # no tokenizer was made


def test_sharded_equals_unsharded(single, tiny_corpus, tmp_path):
    c = _config(tiny_corpus, (2, 2, 2), total_steps=6, eval_splits=("validation",))
    summary = loop.run(c, str(tmp_path), objective=FrameEnergy())
    ref = _losses(single[0])
    for step, value in _losses(str(tmp_path)).items():
        assert value == pytest.approx(ref[step], rel=1e-5), step
    assert summary["validation/mse"] == pytest.approx(single[1]["validation/mse"], rel=1e-5)


def _train_cmd(data_dir, wd):
    script = (
        f"import sys; sys.path.insert(0, {HERE!r})\n"
        "import jax\n"
        "from frame_regression import FrameEnergy\n"
        "from train_helpers import micro_config\n"
        "from w2v2jax.train import loop\n"
        f"c = micro_config({data_dir!r}, total_steps=10, checkpoint_every=2, "
        "eval_splits=('validation',), objective='frame_energy')\n"
        f"loop.run(c, {wd!r}, devices=jax.devices()[:1], objective=FrameEnergy())\n"
    )
    return [sys.executable, "-c", script]


@pytest.mark.slow
def test_kill9_then_resume_equals_uninterrupted(tiny_corpus, tmp_path):
    ref, killed = str(tmp_path / "ref"), str(tmp_path / "killed")
    run_killed_then_resumed(lambda wd: _train_cmd(tiny_corpus, wd), ref, killed, 4)
    a, b = _losses(ref), _losses(killed)
    assert sorted(a) == sorted(b) == list(range(1, 11))
    for step in a:
        assert a[step] == pytest.approx(b[step], rel=1e-6, abs=1e-7), step
    with (
        open(os.path.join(ref, "summary.json")) as f,
        open(os.path.join(killed, "summary.json")) as g,
    ):
        assert json.load(f)["validation/mse"] == pytest.approx(json.load(g)["validation/mse"])


def test_unknown_objective_is_a_config_error(tiny_corpus):
    with pytest.raises(ConfigError, match="objective='nope': choose one of"):
        objectives.build(_config(tiny_corpus, objective="nope"))
