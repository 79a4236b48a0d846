"""Fault injection (issue 13): kill -9 at random moments of a run that checkpoints every
step, then a damaged newest checkpoint, then a second run on the same workdir. The run
still ends with the metrics of an uninterrupted one, and nothing is deleted."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import xla_env
from train_checkpoint_test import damage

from w2v2jax.train.metrics import read_metrics

STEPS = 12


def _cmd(data_dir, wd):
    flags = {
        "data_dir": data_dir,
        "total_steps": STEPS,
        "checkpoint_every": 1,
        "batch_size": 8,
        "num_buckets": 0,
        "bucket_seconds": "(6.0,)",
        "warmup_steps": 2,
        "learning_rate": 2e-3,
        "log_every": 1,
        "eval_every": 0,
        "eval_splits": "('validation',)",
    }
    return [sys.executable, "-m", "w2v2jax.cli", "train", "--config=w2v2jax/configs/ctc.py:micro",
            f"--workdir={wd}"] + [f"--config.{k}={v}" for k, v in flags.items()]  # fmt: skip


ENV = xla_env.env()  # one CPU device, as a laptop user would have


def _losses(wd):
    return {r["step"]: r["loss"] for r in read_metrics(wd) if "tokens" in r}


def _steps(wd):
    folder = os.path.join(wd, "checkpoints")
    return (
        sorted(int(n) for n in os.listdir(folder) if n.isdigit()) if os.path.isdir(folder) else []
    )


def _lock_holder(wd):
    try:
        with open(os.path.join(wd, ".lock")) as f:
            return json.load(f)["pid"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.mark.slow
def test_kills_damage_and_a_second_run_end_like_an_uninterrupted_run(tiny_corpus, tmp_path):
    ref, wd = str(tmp_path / "ref"), str(tmp_path / "faulted")
    subprocess.run(_cmd(tiny_corpus, ref), check=True, env=ENV, capture_output=True)
    rng, landed = random.Random(0), 0
    for attempt in range(6):
        # kill -9 at random moments: the first early (start-up or compiling), the next ones
        # a random moment after a randomly chosen later checkpoint (stepping or saving), so
        # the kills land on a loaded machine as on a quiet one.
        newest = (_steps(wd) or [0])[-1]
        if (landed >= 3 and len(_steps(wd)) >= 2) or newest >= STEPS - 1:
            break
        proc = subprocess.Popen(_cmd(tiny_corpus, wd), env=ENV, stderr=subprocess.DEVNULL)
        if attempt == 0:
            time.sleep(rng.uniform(1.0, 4.0))
        else:
            target = rng.randint(newest + 1, min(newest + 3, STEPS - 1))
            deadline = time.time() + 300
            while (_steps(wd) or [0])[-1] < target and proc.poll() is None:
                time.sleep(0.01)
                assert time.time() < deadline
            time.sleep(rng.uniform(0.0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += proc.wait() == -signal.SIGKILL
    assert landed >= 2 and len(_steps(wd)) >= 2
    assert not os.path.exists(os.path.join(wd, "summary.json")) or _steps(wd)[-1] == STEPS
    newest = _steps(wd)[-1]
    damage(wd, newest)
    first = subprocess.Popen(_cmd(tiny_corpus, wd), env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while _lock_holder(wd) != first.pid and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGSTOP)  # holds the lock while the second run tries
    try:
        second = subprocess.run(
            _cmd(tiny_corpus, wd), check=False, env=ENV, capture_output=True, text=True
        )
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 1
    assert f"is in use by another run (pid {first.pid} on" in second.stderr
    assert "Traceback" not in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert f"checkpoint step {newest} of" in err and "is unreadable" in err
    a, b = _losses(ref), _losses(wd)
    assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-6, abs=1e-7), step
    with open(os.path.join(ref, "summary.json")) as f, open(os.path.join(wd, "summary.json")) as g:
        sa, sb = json.load(f), json.load(g)
    assert sb["validation/cer"] == sa["validation/cer"]
    assert sb["validation/loss"] == pytest.approx(sa["validation/loss"], rel=1e-6)
    kept = os.listdir(os.path.join(wd, "damaged-checkpoints"))
    assert [k.split("-")[0] for k in kept] == [str(newest)]  # set aside, not deleted
