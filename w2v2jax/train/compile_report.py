"""Lower and compile the train step for a config and mesh without data or a run.

    w2v2jax compile --config=w2v2jax/configs/ctc.py:base --config.mesh.fsdp=4 --seconds=16

Prints per-device memory (XLA's memory analysis) and the FLOPs of one step, both XLA's
count and the analytic one used for MFU. With `--topology=v5e-16` (or another of
TOPOLOGIES; needs `pip install libtpu`), compiles ahead of time for that TPU slice from this
machine: the same executable a pod would run, its memory per chip known before renting it.
"""

import time

import jax

from w2v2jax.frames import seconds_to_samples
from w2v2jax.train import flops, objectives, sharding
from w2v2jax.train.assembly import assemble
from w2v2jax.train.precompile import rng_spec
from w2v2jax.train.state import param_count


def compile_step(c, seconds: float, devices=None, objective=None):
    """(compiled train step, assembly, num_samples): the run's own jitted step, lowered for
    one bucket of `seconds` on the config's mesh over `devices`."""
    objective = objective or objectives.build(c)
    num_samples = seconds_to_samples(seconds)
    a = assemble(c, objective, devices=devices)
    batch = a.batch_spec(num_samples, train=True)
    with a.context():
        lowered = a.train_step.jitted.lower(
            a.abstract, batch, rng_spec(sharding.replicated(a.mesh))
        )
    return lowered.compile(), a, num_samples


# Slices this machine can compile for without owning them: TPU_ACCELERATOR_TYPE names the
# slice for libtpu, the topology string its chip grid (jax.experimental.topologies).
TOPOLOGIES = {
    "v5e-16": ("v5litepod-16", "v5e:4x4"),
    "v5e-8": ("v5litepod-8", "v5e:2x4"),
    "v4-32": ("v4-32", "v4:2x2x4"),
    "v4-8": ("v4-8", "v4:2x2x1"),
}


def topology_devices(name: str):
    """The devices of a TPU slice, for compiling ahead of time on a machine without TPUs
    (as MaxText does); needs `pip install libtpu` beside jax."""
    import os

    from w2v2jax.errors import SetupError, UsageError

    if name not in TOPOLOGIES:
        raise UsageError(f"--topology={name}: choose one of {sorted(TOPOLOGIES)}")
    accelerator, grid = TOPOLOGIES[name]
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", accelerator)
    from jax.experimental import topologies

    try:
        return topologies.get_topology_desc(grid, "tpu").devices
    except (RuntimeError, ValueError) as e:
        raise SetupError(
            f"cannot describe the {name} slice ({e}); `pip install libtpu` (the version that "
            "matches jax) to compile for TPUs from this machine"
        ) from e


def report(c, seconds: float, devices=None) -> str:
    t0 = time.perf_counter()
    compiled, a, num_samples = compile_step(c, seconds, devices)
    cfg, abstract = a.cfg, a.abstract
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
    lines.append(f"compile seconds: {time.perf_counter() - t0:.1f}")
    return "\n".join(lines)
