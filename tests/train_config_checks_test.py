"""A bad config is one sentence before anything compiles or is written (issue 13, item 6)."""

import os

import pytest
from train_helpers import micro_config

from w2v2jax.errors import ConfigError
from w2v2jax.train import config_checks, loop

BAD = [
    ({"learning_rate": float("nan")}, "learning_rate=nan: must be a finite number above 0"),
    ({"checkpoint_every": 0}, "checkpoint_every=0: must be a whole number above 0"),
    ({"log_every": 0}, "log_every=0: must be a whole number above 0"),
    ({"batch_size": 0}, "batch_size=0: must be a whole number above 0"),
    ({"total_steps": -5}, "total_steps=-5: must be a whole number above 0"),
    ({"b2": 1.5}, "b2=1.5: must be a number from 0 to 1"),
    ({"time_budget_s": float("inf")}, "time_budget_s=inf: must be a finite number"),
    ({"time_budget_clock": "gpu"}, r"time_budget_clock='gpu': choose one of \('wall', 'cpu'\)"),
    ({"num_buckets": 0, "bucket_seconds": (3.0, 2.0)}, "bucket_seconds=.*increasing"),
    ({"model.hidden_dropout": 1.5}, "hidden_dropout=1.5: must be a number from 0 to 1"),
    ({"augment.noise_prob": 1.5}, r"augment.noise_prob=1.5: must be a number from 0 to 1"),
    ({"augment.rt60_s": (0.8, 0.2)}, r"augment.rt60_s=\(0.8, 0.2\): give \(low, high\)"),
    ({"augment.noise_dir": "/no/such/noise"}, r"augment.noise_dir='/no/such/noise' is not a"),
]


@pytest.mark.parametrize("overrides,message", BAD, ids=[str(o) for o, _ in BAD])
def test_bad_field_is_one_sentence(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config_checks.validate(micro_config("", **overrides))


def test_unknown_model_field():
    c = micro_config("")
    c.model.nope = 1
    with pytest.raises(ConfigError, match=r"model has no field\(s\) \['nope'\]"):
        config_checks.validate(c)


def test_the_default_configs_pass():
    from w2v2jax.configs.ctc import get_config

    for size in ("micro", "tiny", "base", "large"):
        config_checks.validate(get_config(size))


def test_a_bad_config_writes_nothing(tiny_corpus, tmp_path):
    wd = tmp_path / "run"
    with pytest.raises(ConfigError, match="log_every=0"):
        loop.Trainer(micro_config(tiny_corpus, log_every=0), str(wd))
    assert not os.path.exists(wd)
