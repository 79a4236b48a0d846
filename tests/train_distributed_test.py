"""Two processes on 127.0.0.1 (4 CPU devices each) train like one process with 8, under a
time budget whose plan every process takes from process 0 (train/budget.py).

One test, not two: each two-process run is two jax processes starting, compiling and waiting
on each other, 1.5-3 minutes of a 2-core machine."""

import os
import socket
import subprocess
import sys

import jax
import pytest
import xla_env
from train_helpers import FakeClock, micro_config

from w2v2jax.models.wav2vec2 import init_params
from w2v2jax.train import budget, checkpoint, loop
from w2v2jax.train.metrics import read_metrics

HERE = os.path.dirname(__file__)

WORKER = """
import sys; sys.path.insert(0, {here!r})
from w2v2jax.train import budget, distributed, loop
distributed.initialize({addr!r}, 2, {pid})
import jax
assert jax.process_count() == 2 and jax.device_count() == 8, jax.devices()
from train_helpers import FakeClock, micro_config
budget.MEASURE_SKIP, budget.MEASURE_STEPS = 1, 4
c = micro_config({data!r}, **{overrides!r})
summary = loop.Trainer(c, {wd!r}, clock=FakeClock(tick={tick})).run()
jax.distributed.shutdown()
print("worker", {pid}, "stopped at", summary["step"], "plan", summary["planned_steps"])
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A budget of fake seconds (FakeClock): the plan is fixed after step 5, well before 16.
OVERRIDES = {"total_steps": 16, "time_budget_s": 4.0, "checkpoint_every": 4, "eval_splits": ()}


def _losses(wd):
    return {r["step"]: r["loss"] for r in read_metrics(wd) if "tokens" in r}


@pytest.mark.slow
def test_two_processes_match_one_and_take_process_0s_plan(tiny_corpus, tmp_path, monkeypatch):
    wd = str(tmp_path / "multi")
    addr = f"127.0.0.1:{_free_port()}"
    env = xla_env.env(devices=4, JAX_PLATFORMS="cpu")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                # Process 1's clock runs three times slower: alone it would plan fewer steps.
                WORKER.format(
                    here=HERE,
                    addr=addr,
                    pid=i,
                    data=tiny_corpus,
                    wd=wd,
                    overrides=OVERRIDES,
                    tick=(0.1, 0.3)[i],
                ),
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
    (planned,) = {r["planned_steps"] for r in read_metrics(wd) if "planned_steps" in r}
    for i, out in enumerate(outs):
        assert f"worker {i} stopped at {planned} plan {planned}" in out
    assert 5 < planned < OVERRIDES["total_steps"]
    single = str(tmp_path / "single")
    monkeypatch.setattr(budget, "MEASURE_SKIP", 1)
    monkeypatch.setattr(budget, "MEASURE_STEPS", 4)
    summary = loop.Trainer(micro_config(tiny_corpus, **OVERRIDES), single, clock=FakeClock()).run()
    assert summary["planned_steps"] == planned
    a, b = _losses(single), _losses(wd)
    assert sorted(a) == sorted(b) == list(range(1, planned + 1))
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-5)
    # Only process 0 logged: one row per step, no duplicates.
    assert [r["step"] for r in read_metrics(wd) if "tokens" in r] == list(range(1, planned + 1))
    # What the two processes wrote restores in this single process.
    cfg = checkpoint.load_model_config(wd)
    abstract = jax.eval_shape(lambda: init_params(cfg, jax.random.PRNGKey(0)))
    params, step = checkpoint.restore_params(wd, abstract)
    assert step == planned
    single_params, _ = checkpoint.restore_params(single, abstract)
    diff = jax.tree.map(lambda x, y: float(abs(x - y).max()), params, single_params)
    assert max(jax.tree.leaves(diff)) < 1e-4
