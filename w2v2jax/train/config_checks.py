"""A training config checked as a whole before anything compiles or is written.

Each check names the field, the value and what would work, so `--config.log_every=0` is one
sentence, not a ZeroDivisionError at step 1 after minutes of compiling.
"""

import dataclasses
import math

from w2v2jax.data import augment
from w2v2jax.errors import ConfigError
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.train import budget

POSITIVE_INTS = ("batch_size", "total_steps", "grad_accum", "checkpoint_every", "log_every")
POSITIVE_INTS += ("keep_checkpoints", "compile_threads")
NON_NEGATIVE_INTS = ("warmup_steps", "eval_every", "num_buckets", "train_examples")
NON_NEGATIVE_INTS += ("train_examples_seed",)
POSITIVE_FLOATS = ("learning_rate", "max_seconds")
NON_NEGATIVE_FLOATS = ("weight_decay", "grad_clip", "time_budget_s", "peak_flops", "adam_eps")
FRACTIONS = ("b1", "b2", "final_lr_ratio")  # in [0, 1]
MODEL_FRACTIONS = ("hidden_dropout", "activation_dropout", "attention_dropout")
MODEL_FRACTIONS += ("feat_proj_dropout", "final_dropout", "layerdrop", "mask_time_prob")
MODEL_FRACTIONS += ("mask_feature_prob",)


def validate(c) -> None:
    """Raises ConfigError for the first field that cannot run."""
    for name in POSITIVE_INTS:
        _number(c, name, int, lambda v: v > 0, "a whole number above 0")
    for name in NON_NEGATIVE_INTS:
        _number(c, name, int, lambda v: v >= 0, "a whole number, 0 or more")
    for name in POSITIVE_FLOATS:
        _number(c, name, float, lambda v: v > 0, "a finite number above 0")
    for name in NON_NEGATIVE_FLOATS:
        _number(c, name, float, lambda v: v >= 0, "a finite number, 0 or more")
    for name in FRACTIONS:
        _number(c, name, float, lambda v: 0 <= v <= 1, "a number from 0 to 1")
    if not c.num_buckets:
        seconds = list(c.bucket_seconds)
        if not seconds or any(not s > 0 for s in seconds) or seconds != sorted(set(seconds)):
            raise ConfigError(
                f"bucket_seconds={tuple(seconds)}: give increasing lengths above 0 (or "
                "num_buckets > 0 to fit them to the data)"
            )
    if c.get("time_budget_clock", "wall") not in budget.CLOCKS:
        raise ConfigError(
            f"time_budget_clock={c.time_budget_clock!r}: choose one of {budget.CLOCKS}"
        )
    _model(c.model)
    if "augment" in c:
        _augment(c.augment)


def _number(c, name: str, kind, ok, what: str) -> None:
    if name not in c:
        return
    value = c[name]
    good = isinstance(value, int | float) and not isinstance(value, bool)
    good = good and (kind is float or float(value).is_integer())
    good = good and math.isfinite(value) and ok(value)
    if not good:
        raise ConfigError(f"{name}={value!r}: must be {what}")


def _model(model) -> None:
    fields = {f.name for f in dataclasses.fields(Wav2Vec2Config)}
    unknown = sorted(set(model.keys()) - fields)
    if unknown:
        raise ConfigError(
            f"model has no field(s) {unknown}: check the spelling (`w2v2jax train --help` "
            "lists the fields)"
        )
    for name in MODEL_FRACTIONS:
        _number(model, f"{name}", float, lambda v: 0 <= v <= 1, "a number from 0 to 1")


def _augment(cfg) -> None:
    """Probabilities in [0, 1], ranges (low, high) in order, noise_dir a folder with audio;
    the check lives beside the augmentations (data/augment.py) so a library caller gets it."""
    augment.check_config(dict(cfg))
