"""Checkpoints: a damaged newest step falls back to the one before, nothing is deleted, and a
failed run leaves nothing the next one trips on (issue 13, items 3 and 5)."""

import os
import shutil

import jax
import pytest
from train_helpers import micro_config, run_single

from w2v2jax.errors import WorkdirError
from w2v2jax.models import init_params
from w2v2jax.train import checkpoint
from w2v2jax.train.metrics import read_metrics


def _config(data_dir, steps):
    return micro_config(
        data_dir, total_steps=steps, checkpoint_every=1, schedule="constant", eval_splits=()
    )


def _losses(wd):
    return {r["step"]: r["loss"] for r in read_metrics(wd) if "tokens" in r}


def damage(wd, step):
    """Truncates the optimizer state's data files of a step: unreadable, still present."""
    d = os.path.join(wd, "checkpoints", str(step), "opt", "ocdbt.process_0", "d")
    for name in os.listdir(d):
        with open(os.path.join(d, name), "r+b") as f:
            f.truncate(10)


@pytest.fixture(scope="module")
def reference(tiny_corpus, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("ref"))
    run_single(_config(tiny_corpus, 4), wd)
    return _losses(wd)


def test_damaged_newest_step_falls_back_and_is_kept(tiny_corpus, tmp_path, reference, capfd):
    wd = str(tmp_path / "run")
    run_single(_config(tiny_corpus, 3), wd)
    damage(wd, 3)
    run_single(_config(tiny_corpus, 4), wd)
    err = capfd.readouterr().err
    assert "checkpoint step 3 of" in err and "is unreadable" in err
    assert "resumed from step 2" in err and "moved the unreadable checkpoint step 3" in err
    got = _losses(wd)
    assert sorted(got) == [1, 2, 3, 4]
    for step, value in reference.items():
        assert got[step] == pytest.approx(value, rel=1e-6, abs=1e-7), step
    (kept,) = os.listdir(os.path.join(wd, "damaged-checkpoints"))
    assert kept.startswith("3-") and os.listdir(os.path.join(wd, "damaged-checkpoints", kept))


def test_inference_params_fall_back_too(tiny_corpus, tmp_path):
    wd = str(tmp_path / "run")
    run_single(_config(tiny_corpus, 2), wd)
    shutil.rmtree(os.path.join(wd, "checkpoints", "2", "params"))
    cfg = checkpoint.load_model_config(wd)
    abstract = jax.eval_shape(lambda: init_params(cfg, jax.random.PRNGKey(0)))
    _, step = checkpoint.restore_params(wd, abstract)
    assert step == 1
    assert os.path.isdir(os.path.join(wd, "checkpoints", "2"))  # kept


def test_no_readable_step_is_one_sentence_and_deletes_nothing(tiny_corpus, tmp_path):
    wd = str(tmp_path / "run")
    run_single(_config(tiny_corpus, 2), wd)
    for step in (1, 2):
        damage(wd, step)
    before = sorted(os.listdir(os.path.join(wd, "checkpoints")))
    with pytest.raises(WorkdirError, match="no checkpoint of .* can be read: step 2: .*step 1: "):
        run_single(_config(tiny_corpus, 3), wd)
    assert sorted(os.listdir(os.path.join(wd, "checkpoints"))) == before


def test_leftovers_of_a_run_without_a_checkpoint_do_not_block_the_next(tiny_corpus, tmp_path):
    wd = tmp_path / "run"
    wd.mkdir()
    (wd / "config.json").write_text('{"model": {"hidden_size": 32}, "train": {}}')
    (wd / "vocab.json").write_text('{"<pad>": 0, "x": 1}')
    summary = run_single(_config(tiny_corpus, 1), str(wd))
    assert summary["step"] == 1
    assert checkpoint.load_model_config(str(wd)).hidden_size == 64


def test_a_torn_config_json_is_named(tiny_corpus, tmp_path):
    wd = str(tmp_path / "run")
    run_single(_config(tiny_corpus, 1), wd)
    with open(os.path.join(wd, "config.json"), "r+") as f:
        f.truncate(27)
    with pytest.raises(WorkdirError, match="config.json is damaged"):
        run_single(_config(tiny_corpus, 2), wd)
