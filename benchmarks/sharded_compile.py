"""Compile time of the eval step on one device and on an 8-device data mesh.

    python -m benchmarks.sharded_compile [--model=micro|tiny] [--seconds=6]

Each part of the eval step (forward, + CTC loss, + greedy decode) is lowered and compiled
for a batch of 8 rows sharded over 8 host devices and, for reference, on one device. XLA's
SPMD partitioner only runs on the mesh, so the ratio shows what sharding adds to a compile.
The host devices are forced in main, before jax starts; no accelerator is needed.
"""

import os
import time

from absl import app, flags

flags.DEFINE_enum("model", "micro", ["micro", "tiny"], "Model shapes.")
flags.DEFINE_float("seconds", 6.0, "Audio length of the batch.")
FLAGS = flags.FLAGS
PARTS = ("forward", "forward + loss", "forward + loss + greedy")
ROWS, LABELS = 8, 150


def compile_seconds(model, part: str, devices) -> float:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    from w2v2jax.ctc import ctc_loss, greedy_decode

    mesh = Mesh(np.array(devices), ("data",))
    rep, rows = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    samples = int(FLAGS.seconds * 16000)
    params = jax.eval_shape(
        lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 400)), jnp.zeros((1, 400)))
    )["params"]
    params = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=rep), params)

    def spec(shape, dtype):
        return jax.ShapeDtypeStruct(shape, dtype, sharding=rows)

    batch = {
        "audio": spec((ROWS, samples), jnp.float32),
        "audio_paddings": spec((ROWS, samples), jnp.float32),
        "labels": spec((ROWS, LABELS), jnp.int32),
        "label_paddings": spec((ROWS, LABELS), jnp.float32),
    }

    def step(params, batch):
        logits, pads = model.apply(
            {"params": params}, batch["audio"], batch["audio_paddings"], deterministic=True
        )
        out = {"log_probs": jax.nn.log_softmax(logits, -1)}
        if "loss" in part:
            out["loss"] = ctc_loss(logits, pads, batch["labels"], batch["label_paddings"])
        if "greedy" in part:
            out["ids"] = greedy_decode(logits, pads)
        return out

    t0 = time.perf_counter()
    jax.jit(step, in_shardings=(rep, rows), out_shardings=rep).lower(params, batch).compile()
    return time.perf_counter() - t0


def main(_):
    # Before jax initialises its backends: the 8 host devices of the mesh.
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    )
    import jax

    from w2v2jax.models.config import MICRO_SHAPES, get_config
    from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC

    overrides = MICRO_SHAPES if FLAGS.model == "micro" else {}
    model = Wav2Vec2ForCTC(get_config("tiny", **{**overrides, "vocab_size": 32}))
    devices = jax.devices()
    print(
        f"eval step compile, {FLAGS.model} model, {ROWS} x {FLAGS.seconds:g} s, jax {jax.__version__}"
    )
    print("| part | 1 device s | 8-device mesh s | mesh/one |")
    print("|---|---:|---:|---:|")
    for part in PARTS:
        one = compile_seconds(model, part, devices[:1])
        mesh = compile_seconds(model, part, devices[:8])
        print(f"| {part} | {one:.1f} | {mesh:.1f} | {mesh / one:.1f}x |", flush=True)


if __name__ == "__main__":
    app.run(main)
