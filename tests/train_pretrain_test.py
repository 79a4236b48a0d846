"""Pretraining through the shared run (issue 14): fairseq's loss terms, a short run that
learns without collapsing, sharded == unsharded, exact resume, and CTC fine-tuning from it."""

import json
import os
import subprocess
import sys
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xla_env
from train_helpers import override, run_killed_then_resumed

from w2v2jax.configs.pretrain import get_config
from w2v2jax.errors import TrainingError
from w2v2jax.train import checkpoint, loop
from w2v2jax.train.metrics import read_metrics
from w2v2jax.train.objectives.pretrain import Pretraining, fairseq_terms, temperature

HERE = os.path.dirname(__file__)


def pretrain_config(data_dir, mesh=(1, 1, 1), **overrides):
    c = get_config("micro")
    c.data_dir = data_dir
    c.batch_size, c.num_buckets, c.bucket_seconds = 8, 0, (6.0,)
    c.total_steps, c.warmup_steps, c.learning_rate = 6, 2, 2e-3
    c.checkpoint_every, c.eval_every, c.log_every = 3, 0, 1
    c.mesh.data, c.mesh.fsdp, c.mesh.tensor = mesh
    return override(c, overrides)


def _rows(wd):
    return [r for r in read_metrics(wd) if "contrastive_loss" in r]


def test_fairseq_criterion_against_numpy():
    """wav2vec_criterion.py: CE summed over masked frames (reduction sum), plus each extra
    loss times its weight times sample_size; correct = argmax is the positive."""
    rng = np.random.default_rng(0)
    b, t, k1 = 3, 7, 6
    logits = rng.normal(size=(b, t, k1)).astype(np.float32)
    logits[0, 2, 3] = -np.inf  # a negative equal to its positive
    mask = rng.random((b, t)) < 0.6
    valid = np.array([1.0, 1.0, 0.0], np.float32)  # a padding row counts for nothing
    out = {"logits_BxTxK1": jnp.asarray(logits), "mask_time_BxT": jnp.asarray(mask)}
    terms = jax.tree.map(float, fairseq_terms(out, jnp.asarray(valid)))
    counted = mask & (valid[:, None] > 0)
    lse = np.log(np.sum(np.exp(logits), axis=-1))
    ce = lse - logits[..., 0]
    assert terms["masked"] == counted.sum()
    assert terms["contrastive"] == pytest.approx(ce[counted].sum(), rel=1e-5)
    assert terms["correct"] == (np.argmax(logits, -1) == 0)[counted].sum()
    c = pretrain_config("")
    model = types.SimpleNamespace(cfg=types.SimpleNamespace(
        num_codevector_groups=2, num_codevectors_per_group=16, diversity_loss_weight=0.1))  # fmt: skip
    extra = {"prob_perplexity": 20.0, "features_penalty": 0.3}
    loss, diversity = Pretraining(c)._weighted(model, extra, terms)
    n = counted.sum()
    assert float(diversity) == pytest.approx((32 - 20.0) / 32)
    assert float(loss) == pytest.approx(ce[counted].sum() + 0.1 * 12 / 32 * n + 10 * 0.3 * n)


def test_temperature_is_fairseqs_schedule():
    c = pretrain_config("")
    for step in (0, 1000, 200_000, 10**6):
        expected = max(2.0 * 0.999995**step, 0.5)
        assert float(temperature(c, jnp.int32(step))) == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope="module")
def single(tiny_corpus, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("pre"))
    c = pretrain_config(tiny_corpus, total_steps=30, checkpoint_every=30, peak_flops=1e12)
    summary = loop.run(c, wd, devices=jax.devices()[:1])
    return wd, summary


def test_short_pretraining_learns_without_collapse(single):
    wd, summary = single
    rows = _rows(wd)
    assert [r["step"] for r in rows] == list(range(1, 31))
    for key in ("loss", "contrastive_loss", "diversity", "features_penalty", "accuracy",
                "prob_perplexity", "code_perplexity", "temperature", "grad_norm",
                "audio_per_second", "mfu", "masked_frames"):  # fmt: skip
        assert all(np.isfinite(r[key]) for r in rows), key
    first = np.mean([r["contrastive_loss"] for r in rows[:3]])
    last = np.mean([r["contrastive_loss"] for r in rows[-3:]])
    assert last < first - 0.1, (first, last)
    collapse_line = 0.02 * 2 * 16
    assert min(r["prob_perplexity"] for r in rows) > collapse_line
    assert rows[-1]["temperature"] < rows[0]["temperature"] <= 2.0
    for key in ("loss", "contrastive_loss", "accuracy", "prob_perplexity"):
        assert np.isfinite(summary[f"validation/{key}"]), key
    assert not os.path.exists(os.path.join(wd, "vocab.json"))


@pytest.mark.slow
@pytest.mark.parametrize("mesh", [(8, 1, 1), (2, 2, 2)], ids=["8x1x1", "2x2x2"])
def test_sharded_equals_unsharded(mesh, tiny_corpus, tmp_path):
    ref, wd = str(tmp_path / "ref"), str(tmp_path / "mesh")
    loop.run(pretrain_config(tiny_corpus, total_steps=3, eval_splits=()), ref,
             devices=jax.devices()[:1])  # fmt: skip
    loop.run(pretrain_config(tiny_corpus, mesh, total_steps=3, eval_splits=()), wd)
    a, b = _rows(ref), _rows(wd)
    assert [r["step"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b, strict=True):
        for key in ("loss", "contrastive_loss", "prob_perplexity", "accuracy"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-4, abs=1e-6), (mesh, ra["step"], key)


def test_ctc_fine_tuning_starts_from_the_pretrained_encoder(single, tiny_corpus, tmp_path):
    from train_helpers import micro_config

    wd, _ = single
    c = micro_config(tiny_corpus, init_from=wd, freeze_feature_encoder=True)
    trainer = loop.Trainer(c, str(tmp_path / "ft"), devices=jax.devices()[:1])
    state = trainer.initial_state()
    cfg = checkpoint.load_model_config(wd)
    from w2v2jax.models import Wav2Vec2ForPreTraining

    abstract = jax.eval_shape(
        lambda: nn.unbox(
            Wav2Vec2ForPreTraining(cfg).init(
                {"params": jax.random.PRNGKey(0)}, jnp.zeros((1, 16000)), jnp.zeros((1, 16000))
            )["params"]
        )
    )
    pretrained, _ = checkpoint.restore_params(wd, abstract)
    same = jax.tree.map(
        lambda x, y: bool(np.array_equal(x, y)), state["params"]["wav2vec2"], pretrained["wav2vec2"]
    )
    assert all(jax.tree.leaves(same))
    assert "lm_head" in state["params"] and "quantizer" not in state["params"]
    trainer.lock.release()


def test_a_collapsing_codebook_warns_then_stops(tiny_corpus, tmp_path, capfd):
    c = pretrain_config(tiny_corpus, total_steps=6, collapse_fraction=2.0, health_patience=2,
                        checkpoint_every=1, eval_splits=())  # fmt: skip
    with pytest.raises(TrainingError, match="codebook is collapsing.*since step 1"):
        loop.run(c, str(tmp_path), devices=jax.devices()[:1])
    assert "warning at step 1: the codebook is collapsing" in capfd.readouterr().err
    assert checkpoint.has_checkpoints(str(tmp_path))  # kept


def _train_cmd(data_dir, wd):
    script = (
        f"import sys; sys.path.insert(0, {HERE!r})\n"
        "import jax\n"
        "from train_pretrain_test import pretrain_config\n"
        "from w2v2jax.train import loop\n"
        f"c = pretrain_config({data_dir!r}, total_steps=8, checkpoint_every=2)\n"
        f"loop.run(c, {wd!r}, devices=jax.devices()[:1])\n"
    )
    return [sys.executable, "-c", script]


@pytest.mark.slow
def test_kill9_then_resume_equals_uninterrupted(tiny_corpus, tmp_path):
    ref, killed = str(tmp_path / "ref"), str(tmp_path / "killed")
    run_killed_then_resumed(lambda wd: _train_cmd(tiny_corpus, wd), ref, killed, 2)
    a, b = _rows(ref), _rows(killed)
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, 9))
    for ra, rb in zip(a, b, strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-6, abs=1e-7), ra["step"]
    with (
        open(os.path.join(ref, "summary.json")) as f,
        open(os.path.join(killed, "summary.json")) as g,
    ):
        assert json.load(g)["validation/loss"] == pytest.approx(json.load(f)["validation/loss"])


PRETRAIN_WORKER = """
import sys; sys.path.insert(0, {here!r})
from w2v2jax.train import distributed, loop
distributed.initialize({addr!r}, 2, {pid})
import jax
assert jax.process_count() == 2 and jax.device_count() == 8, jax.devices()
from train_pretrain_test import pretrain_config
loop.run(pretrain_config({data!r}, (4, 2, 1), total_steps=3, eval_splits=()), {wd!r})
jax.distributed.shutdown()
"""


@pytest.mark.slow
def test_two_processes_pretrain_like_one(tiny_corpus, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{s.getsockname()[1]}"
    wd, single = str(tmp_path / "multi"), str(tmp_path / "single")
    env = xla_env.env(devices=4)
    worker = PRETRAIN_WORKER.format(here=HERE, addr=addr, data=tiny_corpus, wd=wd, pid="{pid}")
    procs = [
        subprocess.Popen([sys.executable, "-c", worker.replace("{pid}", str(i))], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]  # fmt: skip
    for i, p in enumerate(procs):
        out = p.communicate(timeout=600)[0]
        assert p.returncode == 0, f"process {i} failed:\n{out[-3000:]}"
    loop.run(pretrain_config(tiny_corpus, total_steps=3, eval_splits=()), single,
             devices=jax.devices()[:1])  # fmt: skip
    a, b = _rows(single), _rows(wd)
    assert [r["step"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b, strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-4), ra["step"]
