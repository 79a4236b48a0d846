"""One run per (scheme, attention setting, seed) and what it costs in latency.

Every run is the positional ablation's run (experiments/positional_ablation/run.py: its
model, corpus, buckets and optimiser, by its `make_config`) with three model keys more:
`feat_extract_norm="layer"` in every run, the full-attention reference included (the
group-norm CNN normalises over the whole input and cannot stream, so the config refuses
it with chunking; keeping one CNN for all runs leaves chunking the only difference), and
the setting's `attention_chunk_frames` and `attention_left_chunks`.

    c = make_config(FULL, "rope", SETTINGS["c32"], seed=0, data_dir="runs/corpus")
    row = run_one(c, "runs/streaming-full/rope-c32-s0", stream_check=32)
    latency_ms(c.model)   # (worst case, mean) algorithmic latency in ms; inf, inf offline
"""

import dataclasses
import math
import time

import jax

from experiments import train_rows
from experiments.positional_ablation import run as ablation
from experiments.streaming import check
from w2v2jax.frames import SAMPLE_RATE, hop_length
from w2v2jax.models.chunking import lookahead_samples


@dataclasses.dataclass(frozen=True)
class Setting:
    """How attention is cut: chunk = 0 is full attention, left = -1 every earlier chunk;
    raw: the model hears raw samples (model.do_normalize False), not each utterance
    z-normalised, in training and evaluation, as its stream does."""

    name: str
    chunk_frames: int
    left_chunks: int = -1
    raw: bool = False


# Frames of 20 ms: 16 / 32 / 64 frames are 320 / 640 / 1280 ms chunks. "c32l2" is the
# bounded-cost stream at c32's latency: each layer attends to its chunk and the 2 before
# (1.28 s back). Stacked over the tiny model's 4 layers the reach is 8 chunks (5.1 s), so
# on utterances of <= 3 s the limit changes how far each layer looks, not what the output
# can depend on.
SETTINGS = {
    s.name: s
    for s in (
        Setting("full", 0),
        Setting("c16", 16),
        Setting("c32", 32),
        Setting("c64", 64),
        Setting("c32l2", 32, 2),
        # Not in the default sweep (--settings): c32 on raw samples, whose stream equals
        # its offline pass exactly, against c32's normalised utterances.
        Setting("c32raw", 32, raw=True),
    )
}


@dataclasses.dataclass(frozen=True)
class Mode:
    """What a sweep holds fixed: the ablation's mode under it, and what it varies."""

    name: str
    base: ablation.Mode  # model size, training config and corpus
    config: dict  # overrides on top of base.config
    schemes: tuple[str, ...]
    settings: tuple[str, ...]  # keys of SETTINGS
    seeds: int
    stream_check: int  # validation utterances streamed per seed-0 chunked run (0: none)


# The ablation's budget (600 steps, warmup 150): at 250 steps the layer-norm tiny model
# was still on CTC's all-blank plateau (loss 2.9, CER 100%; measured, session 7), where
# nothing about position can show. ~0.5 s a step on 2 cores: ~330 s a run with its
# evaluation, 45 runs ~4.1 h. Three schemes: conv and rope (the two the ablation found
# learn in this budget, position in the features vs in the attention) and none (no
# explicit position); sinusoidal and learned reached only 52-58% CER offline there, like
# none, and would spend a third more time on near-copies of none's rows.
FULL = Mode(
    name="full",
    base=ablation.FULL,
    config={"total_steps": 600, "warmup_steps": 150, "eval_every": 0},
    schemes=("conv", "rope", "none"),
    settings=("full", "c16", "c32", "c64", "c32l2"),
    seeds=3,
    stream_check=32,
)
# The machinery in minutes, not the claims: the ablation's micro model and small corpus.
QUICK = Mode(
    name="quick",
    base=ablation.QUICK,
    config={"total_steps": 12, "warmup_steps": 3, "eval_every": 0},
    schemes=("conv", "none"),
    settings=("full", "c16"),
    seeds=1,
    stream_check=3,
)


def make_config(mode: Mode, scheme: str, setting: Setting, seed: int, data_dir: str, steps=None):
    """The ablation's config of (scheme, seed) with this sweep's budget and `setting`."""
    base = dataclasses.replace(mode.base, config={**mode.base.config, **mode.config})
    c = ablation.make_config(base, scheme, seed, data_dir, steps)
    c.warmup_steps = max(1, c.total_steps // 4) if steps else c.warmup_steps
    c.model.feat_extract_norm = "layer"
    c.model.attention_chunk_frames = setting.chunk_frames
    c.model.attention_left_chunks = setting.left_chunks
    c.model.do_normalize = not setting.raw
    return c


def latency_ms(model_cfg) -> tuple[float, float]:
    """(worst, mean) algorithmic latency in ms: from a sample's arrival to the arrival of
    the last sample the outputs of its chunk need, with no compute time. A chunk's frames
    need its c hops plus the CNN's look-ahead (80 samples), so a sample at the chunk's
    start waits c hops + look-ahead, and samples spread evenly over the chunk wait half
    the chunk + look-ahead on average. Full attention waits for the utterance's end: inf."""
    c = model_cfg.attention_chunk_frames
    if c == 0:
        return math.inf, math.inf
    chunk = c * hop_length(model_cfg)
    ahead = lookahead_samples(model_cfg)
    ms = 1000.0 / SAMPLE_RATE
    return (chunk + ahead) * ms, (chunk / 2 + ahead) * ms


def describe(c, setting: Setting) -> dict:
    """The columns that say what a run is (results.csv's first columns)."""
    worst, mean = latency_ms(c.model)
    return {
        "scheme": c.model.posemb,
        "setting": setting.name,
        "chunk_frames": setting.chunk_frames,
        "chunk_ms": setting.chunk_frames * hop_length(c.model) * 1000 / SAMPLE_RATE,
        "left_chunks": setting.left_chunks,
        "seed": c.seed,
        "latency_worst_ms": worst,
        "latency_mean_ms": mean,
    }


def run_one(c, workdir: str, setting: Setting, stream_check: int = 0) -> dict:
    """Trains (or reuses a finished run: its row.json) and scores it; one CSV row. With
    stream_check > 0, a chunked run also streams that many validation utterances
    (check.py) to measure a stream against the offline evaluation."""
    row = train_rows.finished(workdir)
    if row:
        return {**row, "reused": True}
    t0 = time.time()
    row = describe(c, setting)
    trainer, summary = train_rows.train(c, workdir, row)
    if trainer is None:
        return row
    row.update(train_rows.ctc_scores(summary))
    row["params"] = int(sum(x.size for x in jax.tree.leaves(trainer.state["params"])))
    if stream_check and c.model.attention_chunk_frames:
        row.update(check.stream_against_offline(workdir, c.data_dir, stream_check))
    row["wall_seconds"] = round(time.time() - t0, 1)
    return {**train_rows.record(workdir, row), "reused": False}
