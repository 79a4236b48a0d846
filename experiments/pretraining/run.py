"""One pretraining run on unlabeled audio, then CTC fine-tuning runs: (init, labels, seed).

`init` is "pretrained" (the encoder of the pretraining run; new CTC head, quantizer and
projections dropped) or "scratch" (random init). Both fine-tune on the same seeded subset of
`labels` train utterances (data/subset.py: nested, the same for both inits) for the same
steps; only the recipe's freezing differs (the pretrained encoder's CNN stays frozen and its
transformer waits `freeze_transformer_steps` while the new head settles, as fairseq's
fine-tuning does; a random CNN frozen would be no model at all).

A mode is two config dicts (`--config.KEY=VALUE` overrides of configs/pretrain.py:SIZE and
configs/ctc.py:SIZE) plus what is not a config field: the corpus, label counts and seeds.
"""

import dataclasses
import math

from experiments import train_rows
from w2v2jax.configs import ctc, override, pretrain
from w2v2jax.train import Trainer, read_metrics

ALL = 0  # `labels` value meaning every train utterance


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    size: str  # configs/{pretrain,ctc}.py:SIZE
    pretrain: dict  # overrides of the pretraining config
    finetune: dict  # overrides shared by every fine-tuning run
    freeze_transformer_steps: int  # pretrained init only
    labels: tuple  # labeled utterances per fine-tuning run; ALL = the whole split
    seeds: int
    corpus: dict  # build_corpus arguments


def anneal_to_floor(start: float, floor: float, steps: int) -> float:
    """The per-update decay that takes the Gumbel temperature from start to floor in `steps`
    updates. fairseq's base recipe (2 -> 0.5 at 0.999995) reaches its floor at 69% of its
    400k updates; a short run keeps that shape instead of staying at ~2 throughout."""
    return math.exp(math.log(floor / start) / steps)


PRE_STEPS = 2000
FULL = Mode(
    name="full",
    size="tiny",
    pretrain={
        "num_buckets": 0,
        "bucket_seconds": (1.0, 1.5, 2.0, 3.0),
        "total_steps": PRE_STEPS,
        "warmup_steps": 200,
        "batch_size": 16,
        "eval_every": 250,
        "checkpoint_every": 500,
        "log_every": 10,
        "gumbel_temperature": (2.0, 0.5, anneal_to_floor(2.0, 0.5, int(0.69 * PRE_STEPS))),
    },
    finetune={
        # One bucket: with 50 labeled utterances, a bucket holding fewer than a batch
        # would never be trained on (the pipeline drops each bucket's remainder).
        "num_buckets": 0,
        "bucket_seconds": (3.0,),
        "total_steps": 200,
        "warmup_steps": 50,
        "learning_rate": 1e-3,
        "batch_size": 16,
        "eval_every": 0,  # the final evaluation only: 18 runs must fit a session
        "checkpoint_every": 200,
        "log_every": 10,
    },
    freeze_transformer_steps=70,
    labels=(50, 200, ALL),
    seeds=3,
    corpus={"task": "digits", "num_train": 3000, "num_valid": 200, "num_test": 200, "seed": 0},
)
# The machinery in minutes, not the claim: micro shapes, a handful of steps.
QUICK = Mode(
    name="quick",
    size="micro",
    pretrain={
        **FULL.pretrain,
        "bucket_seconds": (3.0,),
        "total_steps": 12,
        "warmup_steps": 3,
        "batch_size": 8,
        "eval_every": 12,
        "checkpoint_every": 12,
        "log_every": 4,
        "gumbel_temperature": (2.0, 0.5, anneal_to_floor(2.0, 0.5, 8)),
    },
    finetune={
        **FULL.finetune,
        "total_steps": 8,
        "warmup_steps": 2,
        "batch_size": 8,
        "eval_every": 8,
        "checkpoint_every": 8,
        "log_every": 4,
    },
    freeze_transformer_steps=4,
    labels=(16, ALL),
    seeds=1,
    corpus={"task": "digits", "num_train": 64, "num_valid": 16, "num_test": 16, "seed": 0},
)


def pretrain_config(mode: Mode, data_dir: str):
    return override(pretrain.get_config(mode.size), {**mode.pretrain, "data_dir": data_dir})


def finetune_config(mode: Mode, init: str, labels: int, seed: int, data_dir: str, pre_dir: str):
    this_run = {
        "data_dir": data_dir,
        "seed": seed,
        "train_examples": labels,
        "train_examples_seed": seed,
    }
    if init == "pretrained":
        this_run.update(
            init_from=pre_dir,
            freeze_feature_encoder=True,
            freeze_transformer_steps=mode.freeze_transformer_steps,
        )
    return override(ctc.get_config(mode.size), {**mode.finetune, **this_run})


def run_pretraining(c, workdir: str) -> dict:
    """Trains (or reuses) the pretraining run; its final validation figures."""
    row = train_rows.finished(workdir)
    if row:
        return row
    summary = Trainer(c, workdir).run()
    row = {k: v for k, v in summary.items() if k.startswith("validation/")}
    row.update(steps=summary["step"], train_seconds=round(summary["train_seconds"], 1))
    return train_rows.record(workdir, row)


def run_finetuning(c, workdir: str, init: str) -> dict:
    """Trains (or reuses) one fine-tuning run; one CSV row."""
    row = train_rows.finished(workdir)
    if row:
        return row
    row = {"init": init, "labels": c.train_examples or "all", "seed": c.seed}
    trainer, summary = train_rows.train(c, workdir, row)
    if trainer is None:
        return row
    row.update(train_rows.ctc_scores(summary))
    return train_rows.record(workdir, row)


CURVE_KEYS = (
    "loss",
    "contrastive_loss",
    "diversity",
    "features_penalty",
    "prob_perplexity",
    "code_perplexity",
    "temperature",
    "accuracy",
    "learning_rate",
)


def pretraining_curves(workdir: str) -> list[dict]:
    """Every logged training row (loss terms, perplexities, temperature) and each
    validation row of the pretraining run, from its metrics.jsonl."""
    rows = []
    for r in read_metrics(workdir):
        if "contrastive_loss" in r:
            rows.append({"step": r["step"], **{k: r[k] for k in CURVE_KEYS if k in r}})
        elif "validation/contrastive_loss" in r:
            val = {k: v for k, v in r.items() if k.startswith("validation/")}
            rows.append({"step": r["step"], **val})
    return rows
