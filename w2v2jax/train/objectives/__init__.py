"""Training objectives: what a run optimises and how it is scored (see base.py).

`build(c, workdir)` gives the objective a config names (`c.objective`); the run assembly,
the loop and `w2v2jax compile` take any `Objective`, so a new one (pretraining, a test's
frame regression) needs no change to them.
"""

from w2v2jax.errors import ConfigError
from w2v2jax.train.objectives.base import Objective, audio_seconds, audio_spec
from w2v2jax.train.objectives.ctc import CTC
from w2v2jax.train.objectives.pretrain import Pretraining

OBJECTIVES = {"ctc": CTC, "pretrain": Pretraining}


def build(c, workdir: str | None = None) -> Objective:
    name = c.get("objective", "")
    if name not in OBJECTIVES:
        raise ConfigError(f"objective={name!r}: choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name].from_config(c, workdir)


def model_of(name: str, cfg):
    """The model a workdir of objective `name` holds (for init_from across objectives)."""
    if name not in OBJECTIVES:
        raise ConfigError(f"objective={name!r}: choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name].MODEL(cfg)


__all__ = [
    "CTC",
    "OBJECTIVES",
    "Objective",
    "Pretraining",
    "audio_seconds",
    "audio_spec",
    "build",
    "model_of",
]
