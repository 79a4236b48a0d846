"""End to end: training steps, bad inputs, init_from, inference (resume after kill -9:
train_resume_test.py)."""

import os

import numpy as np
import pytest
from train_helpers import micro_config, run_single

from w2v2jax.errors import TrainingError, WorkdirError
from w2v2jax.train import checkpoint
from w2v2jax.train.metrics import read_metrics


def losses(workdir):
    return {r["step"]: r["loss"] for r in read_metrics(workdir) if "loss" in r and "tokens" in r}


def test_few_steps_end_to_end(tiny_corpus, tmp_path):
    wd = str(tmp_path / "run")
    summary = run_single(micro_config(tiny_corpus), wd)
    got = losses(wd)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert got[6] < got[1]  # it learns something in six steps
    assert checkpoint.manager(wd).latest_step() == 6
    for k in ("validation/cer", "test/espeak/cer", "test/flite/cer", "validation/loss"):
        assert k in summary
    assert summary["validation/count"] == 12
    assert os.path.exists(os.path.join(wd, "vocab.json"))
    assert os.listdir(os.path.join(wd, "tensorboard"))
    rows = read_metrics(wd)
    assert all(np.isfinite(r["audio_per_second"]) for r in rows if "audio_per_second" in r)


def test_workdir_of_another_model_shape_is_refused(tiny_corpus, tmp_path):
    wd = str(tmp_path / "run")
    run_single(micro_config(tiny_corpus, total_steps=2), wd)
    before = sorted(os.listdir(os.path.join(wd, "checkpoints")))
    with pytest.raises(WorkdirError, match="another model shape.*hidden_size 64"):
        run_single(micro_config(tiny_corpus, total_steps=4, **{"model.hidden_size": 32}), wd)
    assert sorted(os.listdir(os.path.join(wd, "checkpoints"))) == before


def test_data_dir_without_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="w2v2jax corpus"):
        run_single(micro_config(str(tmp_path / "nothing")), str(tmp_path / "run"))


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tiny_corpus, tmp_path):
    wd = str(tmp_path / "run")
    run_single(micro_config(tiny_corpus, total_steps=2), wd)
    # The same model resumed with an absurd learning rate diverges within a few steps.
    c = micro_config(
        tiny_corpus,
        total_steps=40,
        learning_rate=1e5,
        grad_clip=0.0,
        warmup_steps=0,
        schedule="constant",
        checkpoint_every=100,
    )
    with pytest.raises(TrainingError, match="non-finite loss.*last good checkpoint is step 2"):
        run_single(c, wd)
    assert checkpoint.manager(wd).latest_step() == 2
    assert all(np.isfinite(v) for v in losses(wd).values())
