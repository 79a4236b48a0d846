"""Training speed with augmentation on (all six at moderate probabilities) against off.

    .venv/bin/python -m benchmarks.augment_speed            # tiny model, 400 utterances
    .venv/bin/python -m benchmarks.augment_speed --quick    # micro model, a smoke test

One process, one compiled training step, the same batches in the same order (the same plan,
seed and buckets) with and without augmentation, driven as the training loop drives them
(grain's two worker threads, then `sharding.global_batch` and the jitted step). The two
alternate block by block, each block on a fresh iterator restored to where its last block
ended, so neither is served batches the other's idle prefetch made on its time; what a
block's iterator prefetched beyond its end (4 batches) is thrown away, which charges "on"
4/steps more augmentation than it uses (16% of its small cost at 25 steps; use --steps=100
to shrink it). Prints steps per second and on/off: the issue asks that augmentation cost
under 10% (ratio >= 0.9). The banks of rooms and noise are built before the clock (as
make_batches does) and timed apart.
"""

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

import jax
import numpy as np

from benchmarks.race import fmt_reps, race
from w2v2jax import data
from w2v2jax.configs.ctc import get_config
from w2v2jax.data import audio, augment
from w2v2jax.train import assemble, objectives, sharding

AUGMENT = {  # every augmentation on, at the probabilities a recipe might use
    "speed_prob": 0.5,
    "pitch_prob": 0.3,
    "noise_prob": 0.5,
    "reverb_prob": 0.3,
    "telephone_prob": 0.1,
    "gain_prob": 0.3,
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="micro model, few steps: a smoke test")
    p.add_argument("--data_dir", default="", help="a corpus folder (default: synthesize one)")
    p.add_argument("--size", default=None, help="model size (tiny; micro with --quick)")
    p.add_argument("--steps", type=int, default=None, help="training steps per timed block")
    p.add_argument("--reps", type=int, default=None, help="timed blocks of each (median)")
    return p.parse_args()


def corpus(args, tmp: str) -> str:
    if args.data_dir:
        return args.data_dir
    num_train = 48 if args.quick else 400
    return str(data.build_corpus(os.path.join(tmp, "digits"), "digits", num_train, seed=0))


def config(args, data_dir: str):
    c = get_config(args.size or ("micro" if args.quick else "tiny"))
    c.data_dir = data_dir
    if args.quick:  # one bucket: one compile
        c.batch_size, c.num_buckets, c.bucket_seconds = 8, 0, (6.0,)
    for key, value in AUGMENT.items():
        c.augment[key] = value
    return c


def augment_costs(aug: data.Augmenter, src, n: int = 20) -> dict:
    """Host milliseconds per utterance of each augmentation alone (its probability 1)."""
    out = {}
    clips = [audio.to_float(np.asarray(src[i]["audio"])) for i in range(n)]
    for name in augment.PROBS:
        one = data.Augmenter({**aug.cfg, **dict.fromkeys(augment.PROBS, 0.0), name: 1.0})
        one.rooms, one.noises = aug.rooms, aug.noises  # the banks already built
        t0 = time.perf_counter()
        for k, clip in enumerate(clips):
            one(clip, np.random.default_rng(k))
        out[name.removesuffix("_prob")] = 1e3 * (time.perf_counter() - t0) / n
    return out


def main():
    args = parse_args()
    steps = args.steps or (8 if args.quick else 25)
    reps = args.reps or (2 if args.quick else 5)
    cores = os.cpu_count()
    print(
        f"date {datetime.date.today()}  machine {platform.machine()} {cores} cores"
        f"  load average at start {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        c = config(args, corpus(args, tmp))
        src = data.load_split(c.data_dir, "train")
        lengths = data.source_lengths(src)
        objective = objectives.build(c)
        run = assemble(c, objective, lengths=lengths)
        pipeline_args = run.pipeline_args()
        aug = pipeline_args.pop("augment")
        t0 = time.perf_counter()
        aug.warm()  # make_batches would: the banks of rooms and noise, before the clock
        bank_s = time.perf_counter() - t0
        compile_s = run.precompile(evaluate=False)
        datasets = {
            name: objective.batches(
                src,
                train=True,
                stats=data.Stats(),
                seed=c.seed,
                lengths=lengths,
                **({"augment": aug} if name == "on" else {}),
                **pipeline_args,
            )
            for name in ("off", "on")
        }
        state = {"train": run.init_state(jax.random.PRNGKey(0))}
        rng = jax.random.PRNGKey(1)
        position = {"off": None, "on": None}

        def block(name):
            it = iter(datasets[name])
            if position[name] is not None:
                it.set_state(position[name])
            for _ in range(steps):
                gb = sharding.global_batch(next(it), run.mesh)
                with run.context():
                    state["train"], metrics = run.train_step(state["train"], gb, rng)
            jax.block_until_ready(metrics)
            position[name] = it.get_state()

        for name in datasets:  # warm-up: every thread and allocation started once
            block(name)
        timed = race({name: (lambda n=name: block(n)) for name in datasets}, reps)
        costs = augment_costs(aug, src)
    print(
        f"model {c.model.hidden_size}d x {c.model.num_hidden_layers} layers, batch "
        f"{c.batch_size}, {steps} steps per block, {reps} blocks each; compile {compile_s:.0f} s;"
        f" banks ({aug.cfg['num_rooms']} rooms, noise) {bank_s:.1f} s once per process"
    )
    print(f"augmentation: {AUGMENT}")
    rates = {}
    for name, (walls, cpu) in timed.items():
        rates[name] = steps / statistics.median(walls)
        print(
            f"augment {name:3s}: {rates[name]:.2f} steps/s (median)  block seconds "
            f"{fmt_reps(walls)}  median process CPU {cpu:.2f} s"
        )
    print(f"on/off: {rates['on'] / rates['off']:.3f} (>= 0.90 asked)")
    print(
        "host ms per utterance, each alone: " + ", ".join(f"{k} {v:.1f}" for k, v in costs.items())
    )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
