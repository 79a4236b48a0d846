"""Compile time of the eval step on one device and on an 8-device data mesh.

    python -m benchmarks.sharded_compile [--model=micro|tiny] [--seconds=6]

The run is assembled as training assembles it (`w2v2jax.train.assemble` on
`configs/ctc.py:MODEL`, a batch of 8 rows): its mesh, parameter shardings and abstract eval
batch. Each part of the eval step (forward, + CTC loss, then the run's own jitted eval step:
forward + loss + greedy decode) is lowered and compiled on the 8-device mesh and, for
reference, on one device. XLA's SPMD partitioner only runs on the mesh, so the ratio shows
what sharding adds to a compile. The host devices are forced in main, before jax starts; no
accelerator is needed.
"""

import os
import time

from absl import app, flags

flags.DEFINE_enum("model", "micro", ["micro", "tiny"], "Model size (configs/ctc.py:MODEL).")
flags.DEFINE_float("seconds", 6.0, "Audio length of the batch.")
FLAGS = flags.FLAGS
PARTS = ("forward", "forward + loss", "eval step (forward + loss + greedy)")
ROWS = 8


def assemble_on(devices):
    """The run's assembly (no data: a 32-symbol vocabulary) on these devices."""
    from w2v2jax.configs.ctc import get_config
    from w2v2jax.train import assemble, objectives

    c = get_config(FLAGS.model)
    c.batch_size = ROWS
    return assemble(c, objectives.build(c), devices=devices)


def probe_step(run, part: str):
    """The eval step cut after `part`, jitted with the run's shardings."""
    import jax

    from w2v2jax.ctc import ctc_loss
    from w2v2jax.train import sharding

    def step(params, batch):
        logits, pads = run.model.apply(
            {"params": params}, batch["audio"], batch["audio_paddings"], deterministic=True
        )
        out = {"log_probs": jax.nn.log_softmax(logits, -1)}
        if "loss" in part:
            out["loss"] = ctc_loss(logits, pads, batch["labels"], batch["label_paddings"])
        return out

    return jax.jit(
        step,
        in_shardings=(run.shardings["params"], sharding.batch_sharding(run.mesh)),
        out_shardings=sharding.replicated(run.mesh),
    )


def compile_seconds(run, part: str) -> float:
    from w2v2jax.frames import seconds_to_samples

    step = run.eval_step.jitted if part == PARTS[-1] else probe_step(run, part)
    args = (run.abstract["params"], run.batch_spec(seconds_to_samples(FLAGS.seconds), train=False))
    t0 = time.perf_counter()
    with run.context():
        step.lower(*args).compile()
    return time.perf_counter() - t0


def main(_):
    # Before jax initialises its backends: the 8 host devices of the mesh.
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    )
    import jax

    devices = jax.devices()
    one, mesh = assemble_on(devices[:1]), assemble_on(devices[:8])
    print(
        f"eval step compile, {FLAGS.model} model, {ROWS} x {FLAGS.seconds:g} s, jax {jax.__version__}"
    )
    print("| part | 1 device s | 8-device mesh s | mesh/one |")
    print("|---|---:|---:|---:|")
    for part in PARTS:
        t_one, t_mesh = compile_seconds(one, part), compile_seconds(mesh, part)
        print(f"| {part} | {t_one:.1f} | {t_mesh:.1f} | {t_mesh / t_one:.1f}x |", flush=True)


if __name__ == "__main__":
    app.run(main)
