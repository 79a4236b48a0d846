"""A micro training config that compiles in seconds, for the training tests."""

import jax

from w2v2jax.configs.ctc import get_config
from w2v2jax.train import loop


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


def override(c, overrides: dict):
    """Sets dotted keys ("model.hidden_size", "mesh.data") as --config.KEY=VALUE would."""
    for k, v in overrides.items():
        target = c
        *path, last = k.split(".")
        for p in path:
            target = target[p]
        target[last] = v
    return c


def run_single(c, workdir):
    """loop.run on one device: tests that are not about sharding compile far faster so."""
    return loop.run(c, workdir, devices=jax.devices()[:1])
