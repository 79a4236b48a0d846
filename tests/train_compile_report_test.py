"""`w2v2jax compile`: the run's own jitted step, lowered for a bucket without data."""

import importlib.util

import jax
import pytest
from train_helpers import micro_config

from w2v2jax.errors import SetupError, UsageError
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.train import compile_report, loop


def test_report_names_memory_and_flops():
    c = micro_config("", **{"mesh.data": 4, "mesh.fsdp": 2})
    text = compile_report.report(c, seconds=2.0)
    assert "devices: 8 x" in text and "mesh: {'data': 4, 'fsdp': 2, 'tensor': 1}" in text
    assert "per-device temp_size:" in text and "MiB" in text
    assert "XLA flops per device per step:" in text
    assert "analytic model flops per step (3x forward):" in text


def test_compiled_batch_is_the_training_batch(tiny_corpus, tmp_path):
    """The report compiles exactly the shapes training feeds (they once drifted: 399 labels
    in the report where training used 400)."""
    c = micro_config(tiny_corpus)
    trainer = loop.Trainer(c, str(tmp_path), devices=jax.devices()[:1])
    batch = next(trainer.data_iter)
    seconds = batch["audio"].shape[1] / SAMPLE_RATE
    _, a, num_samples = compile_report.compile_step(c, seconds, devices=jax.devices()[:1])
    spec = a.batch_spec(num_samples, train=True)
    assert {k: v.shape for k, v in spec.items()} == {k: v.shape for k, v in batch.items()}
    assert a.train_step.jitted is not trainer.assembly.train_step.jitted  # two runs, one jit each


def test_topology_needs_a_known_slice_and_libtpu():
    """The AOT path itself needs libtpu (not a test dependency: ~300 MB); measured figures
    are in the issue 14 note. Here: the two ways it can be refused, each one sentence."""
    with pytest.raises(UsageError, match=r"--topology=v9: choose one of \['v4-32'"):
        compile_report.topology_devices("v9")
    if importlib.util.find_spec("libtpu") is None:
        with pytest.raises(SetupError, match="pip install libtpu"):
            compile_report.topology_devices("v5e-16")
    else:
        assert len(compile_report.topology_devices("v5e-16")) == 16
