"""A micro training config that compiles in seconds, a fake clock, and the kill -9 harness,
for the training tests."""

import os
import signal
import subprocess
import time

import jax
import xla_env

from w2v2jax import compile_cache
from w2v2jax.configs import override
from w2v2jax.configs.ctc import get_config
from w2v2jax.train import loop

# The training subprocesses of the kill -9 and multi-process tests import this module: with
# the suite's compilation cache (conftest.py puts its folder in their environment) only the
# first of a kill -9 test's three processes compiles; the kill and the resume read it back.
if os.environ.get(compile_cache.ENV_DIR) and not jax.config.jax_compilation_cache_dir:
    compile_cache.enable(os.environ[compile_cache.ENV_DIR], min_compile_secs=0.5)


def micro_config(data_dir, **overrides):
    c = get_config("micro")  # the one spelling of the micro model (models/config.py SIZES)
    c.data_dir = data_dir
    c.batch_size = 8
    c.num_buckets = 0
    c.bucket_seconds = (6.0,)
    c.total_steps = 6
    c.warmup_steps = 2
    c.learning_rate = 2e-3
    c.checkpoint_every = 2
    c.eval_every = 0
    c.log_every = 1
    return override(c, overrides)


class FakeClock:
    """Advances `tick` seconds per reading; from reading `slow_after` on, `slow` times as
    much (a machine that got busy after the plan was fixed)."""

    def __init__(self, tick=0.1, slow_after=None, slow=1.0):
        self.t, self.n = 0.0, 0
        self.tick, self.slow_after, self.slow = tick, slow_after, slow

    def __call__(self):
        self.n += 1
        late = self.slow_after is not None and self.n > self.slow_after
        self.t += self.tick * (self.slow if late else 1.0)
        return self.t


def run_killed_then_resumed(command, ref: str, killed: str, kill_at_step: int) -> None:
    """command(workdir) -> argv of a training process. Runs it to the end in `ref`; in
    `killed` runs it until checkpoint `kill_at_step` exists, kills it with SIGKILL, then
    runs it again to the end (the resume)."""
    env = xla_env.env()
    subprocess.run(command(ref), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(
        command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt = os.path.join(killed, "checkpoints", str(kill_at_step))
    deadline = time.time() + 300
    while not os.path.isdir(ckpt) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not os.path.exists(os.path.join(killed, "summary.json"))
    subprocess.run(command(killed), check=True, env=env, capture_output=True)


def run_single(c, workdir):
    """loop.run on one device: tests that are not about sharding compile far faster so."""
    return loop.run(c, workdir, devices=jax.devices()[:1])
