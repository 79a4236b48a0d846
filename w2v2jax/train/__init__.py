"""Training for every objective: run assembly, the loop, optimiser, sharding, checkpoints.

    from w2v2jax.configs.ctc import get_config
    from w2v2jax.train import run
    summary = run(get_config("tiny"), "runs/tiny")

A new objective subclasses `Objective` (objectives/base.py) and is passed as
`run(c, workdir, objective=...)` or registered in `objectives.OBJECTIVES`.
"""

from w2v2jax.errors import ConfigError, TrainingError, WorkdirError
from w2v2jax.train.assembly import Assembly, assemble, bucket_boundaries, open_split
from w2v2jax.train.loop import Trainer, run
from w2v2jax.train.metrics import read_metrics
from w2v2jax.train.objectives import CTC, Objective
from w2v2jax.train.sharding import MeshRules, make_mesh

__all__ = [
    "CTC",
    "Assembly",
    "ConfigError",
    "MeshRules",
    "Objective",
    "Trainer",
    "TrainingError",
    "WorkdirError",
    "assemble",
    "bucket_boundaries",
    "make_mesh",
    "open_split",
    "read_metrics",
    "run",
]
