"""Lower and compile the train step for a config and mesh without data or a run.

    w2v2jax compile --config=w2v2jax/configs/ctc.py:base --config.mesh.fsdp=4 --seconds=16

Prints per-device memory (XLA's memory analysis) and the FLOPs of one step, both XLA's
count and the analytic one used for MFU. With a `topology` (e.g. "v5e-16", needs libtpu),
compiles ahead of time for that TPU slice from this machine.
"""

import jax
import jax.numpy as jnp

from w2v2jax.frames import frame_count
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC
from w2v2jax.train import flops, sharding
from w2v2jax.train.optim import make_optimizer
from w2v2jax.train.precompile import batch_spec
from w2v2jax.train.state import param_count, state_shardings
from w2v2jax.train.step import make_train_step


def abstract_batch(c, cfg, num_samples: int, batch_sh):
    u = max(int(frame_count(num_samples, cfg)) // 2, 1)
    return batch_spec(c.batch_size, num_samples, u, batch_sh)


def compile_step(c, seconds: float, devices=None):
    """(compiled step, model config, num_samples) for the config's mesh over `devices`."""
    from w2v2jax.train.loop import _Ctx, model_config, rules_of

    cfg = model_config(c, c.model.vocab_size if c.model.vocab_size > 0 else 32)
    mesh = sharding.make_mesh(c.mesh, devices)
    sharding.check_batch(c.batch_size, mesh, c.grad_accum)
    rules = rules_of(c)
    model = Wav2Vec2ForCTC(cfg)
    tx, schedule = make_optimizer(c)
    abstract, sh = state_shardings(model, tx, mesh, rules)
    batch_sh = sharding.batch_sharding(mesh)
    num_samples = int(seconds * 16000)
    step = make_train_step(
        model, tx, schedule, grad_accum=c.grad_accum, zero_infinity=c.zero_infinity
    )
    rng = jax.ShapeDtypeStruct((2,), jnp.uint32, sharding=sharding.replicated(mesh))
    with _Ctx(mesh, rules):
        lowered = jax.jit(
            step,
            in_shardings=(sh, batch_sh, sharding.replicated(mesh)),
            out_shardings=(sh, sharding.replicated(mesh)),
            donate_argnums=(0,),
        ).lower(abstract, abstract_batch(c, cfg, num_samples, batch_sh), rng)
    return lowered.compile(), cfg, num_samples, abstract


def report(c, seconds: float, devices=None) -> str:
    compiled, cfg, num_samples, abstract = compile_step(c, seconds, devices)
    lines = [
        f"devices: {len(devices or jax.devices())} x {(devices or jax.devices())[0].device_kind}",
        f"mesh: {dict(c.mesh)}  batch: {c.batch_size} x {seconds:.1f} s",
        f"parameters: {param_count(abstract['params']):,}",
    ]
    mem = compiled.memory_analysis()
    if mem is not None:
        for name in (
            "argument_size_in_bytes",
            "output_size_in_bytes",
            "temp_size_in_bytes",
            "generated_code_size_in_bytes",
        ):
            value = getattr(mem, name, None)
            if value is not None:
                lines.append(f"per-device {name.replace('_in_bytes', '')}: {value / 2**20:.1f} MiB")
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    if cost and "flops" in cost:
        lines.append(f"XLA flops per device per step: {cost['flops']:.3e}")
    analytic = flops.train_step_flops(cfg, (c.batch_size, num_samples), c.batch_size)
    lines.append(f"analytic model flops per step (3x forward): {analytic:.3e}")
    return "\n".join(lines)
