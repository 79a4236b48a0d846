"""Two processes on 127.0.0.1 (4 CPU devices each) train like one process with 8."""

import os
import socket
import subprocess
import sys

import jax
import pytest
from train_helpers import micro_config

from w2v2jax.models.wav2vec2 import init_params
from w2v2jax.train import checkpoint, loop
from w2v2jax.train.metrics import read_metrics

HERE = os.path.dirname(__file__)

WORKER = """
import sys; sys.path.insert(0, {here!r})
from w2v2jax.train import distributed, loop
distributed.initialize({addr!r}, 2, {pid})
import jax
assert jax.process_count() == 2 and jax.device_count() == 8, jax.devices()
from train_helpers import micro_config
c = micro_config({data!r}, total_steps=3, checkpoint_every=3, eval_splits=())
loop.run(c, {wd!r})
jax.distributed.shutdown()
print("worker", {pid}, "done")
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(wd):
    return {r["step"]: r["loss"] for r in read_metrics(wd) if "tokens" in r}


@pytest.mark.slow
def test_two_processes_match_one(tiny_corpus, tmp_path):
    wd = str(tmp_path / "multi")
    addr = f"127.0.0.1:{_free_port()}"
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER.format(here=HERE, addr=addr, pid=i, data=tiny_corpus, wd=wd),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for i, (p, out) in enumerate(zip(procs, outs, strict=True)):
        assert p.returncode == 0, f"process {i} failed:\n{out[-3000:]}"
        assert f"worker {i} done" in out
    single = str(tmp_path / "single")
    loop.run(
        micro_config(tiny_corpus, total_steps=3, checkpoint_every=3, eval_splits=()),
        single,
    )
    a, b = _losses(single), _losses(wd)
    assert sorted(b) == [1, 2, 3]
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-5)
    # Only process 0 logged: one row per step, no duplicates.
    assert [r["step"] for r in read_metrics(wd) if "tokens" in r] == [1, 2, 3]
    # What the two processes wrote restores in this single process.
    cfg = checkpoint.load_model_config(wd)
    abstract = jax.eval_shape(lambda: init_params(cfg, jax.random.PRNGKey(0)))
    params, step = checkpoint.restore_params(wd, abstract)
    assert step == 3
    single_params, _ = checkpoint.restore_params(single, abstract)
    diff = jax.tree.map(lambda x, y: float(abs(x - y).max()), params, single_params)
    assert max(jax.tree.leaves(diff)) < 1e-4
