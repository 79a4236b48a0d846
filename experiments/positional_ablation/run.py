"""One ablation run per (scheme, seed): same model, data, seed set and step budget; only
`model.posemb` differs (and, for "learned", the size of its table, which the scheme needs).

Training sees only utterances up to TRAIN_S, the largest bucket (longer ones are skipped
and counted), so every scheme meets at most `train_frames` positions in training; evaluation
then runs on held-out texts (validation), held-out voices (test) and on concatenations up
to FACTOR x the training length (lengths.py).

A mode is a training config, `w2v2jax/configs/ctc.py:SIZE` with a few overrides (the
`--config.KEY=VALUE` of `w2v2jax train`), plus what is not a config field: the corpus, the
number of seeds and the size of the length set.
"""

import dataclasses
import os
import time

import jax

from experiments import train_rows
from experiments.positional_ablation import lengths
from w2v2jax.configs import override
from w2v2jax.configs.ctc import get_config
from w2v2jax.data import load_split
from w2v2jax.frames import SAMPLE_RATE, frame_count, seconds_to_samples
from w2v2jax.train import read_metrics

TRAIN_S = 3.0  # training length: the largest bucket (longer utterances are skipped)
FACTOR = 4  # longest evaluation: FACTOR x TRAIN_S


@dataclasses.dataclass(frozen=True)
class Mode:
    """Everything a sweep holds fixed across schemes."""

    name: str
    size: str  # the config's argument (configs/ctc.py:SIZE): "tiny" or "micro"
    config: dict  # flat dotted keys -> values, set by `override`
    corpus: dict  # build_corpus arguments
    seeds: int
    long_per_bin: int


# Every run: buckets are the mode's bucket_seconds (not fitted to the training lengths).
SHARED = {"num_buckets": 0, "log_every": 10}

# The tiny model of the demo (4 x 256 post-LN, 128-ch CNN, conv posemb of 128 taps in 16
# groups) with the demo's optimiser, on a schedule half as long: the demo reaches ~13%
# validation CER at step 600 of 1200, so 600 steps of a 600-step cosine leave every scheme
# well off CTC's all-blank plateau, where position can matter.
FULL = Mode(
    name="full",
    size="tiny",
    config={
        **SHARED,
        "bucket_seconds": (1.0, 1.5, 2.0, 3.0),
        "total_steps": 600,
        "warmup_steps": 150,
        "learning_rate": 1e-3,
        "batch_size": 16,
        "eval_every": 100,
    },
    corpus={"task": "digits", "num_train": 3000, "num_valid": 200, "num_test": 200, "seed": 0},
    seeds=3,
    long_per_bin=32,
)
# Checks the machinery in minutes, not the claims (24 steps: every CER is ~100%). The micro
# model: tiny's dropout and masking, micro shapes.
QUICK = Mode(
    name="quick",
    size="micro",
    config={
        **SHARED,
        "bucket_seconds": (3.0,),  # one bucket: one train-step compilation per scheme
        "total_steps": 24,
        "warmup_steps": 4,
        "learning_rate": 2e-3,
        "batch_size": 8,
        "eval_every": 8,
    },
    corpus={"task": "digits", "num_train": 96, "num_valid": 16, "num_test": 16, "seed": 0},
    seeds=1,
    long_per_bin=4,
)


assert FULL.config["bucket_seconds"][-1] == QUICK.config["bucket_seconds"][-1] == TRAIN_S


def train_frames(c) -> int:
    """Frames of the longest training input: the learned table's size."""
    return int(frame_count(seconds_to_samples(TRAIN_S), c.model))


def make_config(mode: Mode, scheme: str, seed: int, data_dir: str, steps: int | None = None):
    this_run = {"model.posemb": scheme, "data_dir": data_dir, "seed": seed}
    c = override(get_config(mode.size), {**mode.config, **this_run})
    if steps:
        c.total_steps = steps
    c.warmup_steps = min(c.warmup_steps, c.total_steps // 2)
    c.checkpoint_every = c.total_steps  # one checkpoint, at the end (figures read it)
    if scheme == "learned":
        # The choice for positions past the table: a table exactly as long as training
        # inputs, and "clip" (every later frame reuses the last trained row). A longer
        # table would leave its extra rows at their random init, never trained.
        c.model.max_positions = train_frames(c)
        c.model.learned_overflow = "clip"
    return c


def run_one(c, workdir: str, long_set) -> dict:
    """Trains (or reuses a finished run), evaluates every length bin; one CSV row."""
    row = train_rows.finished(workdir)
    if row:
        return row
    t0 = time.time()
    row = {"scheme": c.model.posemb, "seed": c.seed}
    trainer, summary = train_rows.train(c, workdir, row)
    if trainer is None:
        return row
    by_bin = lengths.evaluate_long(trainer.assembly, trainer.state["params"], long_set)
    row.update(train_rows.ctc_scores(summary))
    row.update(
        wall_seconds=round(time.time() - t0, 1),
        skipped_infeasible=sum(summary["skipped"].values()) if summary.get("skipped") else 0,
        params=int(sum(x.size for x in jax.tree.leaves(trainer.state["params"]))),
    )
    for name, m in by_bin.items():
        row[f"cer_{name}"] = m["cer"]
        row[f"dur_{name}"] = round(m["mean_duration_s"], 2)
    return train_rows.record(workdir, row)


def count_longer(data_dir: str, seconds: float) -> int:
    """Training utterances left out by the one-bucket rule (the pipeline skips them)."""
    train = load_split(data_dir, "train")
    return int((train.lengths > seconds * SAMPLE_RATE).sum())


def curve(workdir: str) -> list[dict]:
    """Validation CER against step, from the run's metrics.jsonl."""
    if not os.path.exists(os.path.join(workdir, "metrics.jsonl")):
        return []
    return [
        {"step": r["step"], "validation_cer": r["validation/cer"]}
        for r in read_metrics(workdir)
        if "validation/cer" in r
    ]
