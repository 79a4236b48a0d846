"""Meshes, logical-axis rules and global batches.

The model names its axes (models/axes.py); the config's rules (configs/common.py) map them
onto the mesh axes data, fsdp and tensor. Parameters are sharded by rule; the batch is split over data x fsdp.
"""

import math

import jax
import numpy as np
from flax import linen as nn
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from w2v2jax.errors import ConfigError

DATA, FSDP, TENSOR = "data", "fsdp", "tensor"
MESH_AXES = (DATA, FSDP, TENSOR)
BATCH_AXES = (DATA, FSDP)


def mesh_shape(mesh_cfg, num_devices: int) -> tuple[int, int, int]:
    """(data, fsdp, tensor) with at most one -1 filled from the device count."""
    sizes = [int(mesh_cfg[a]) for a in MESH_AXES]
    if sizes.count(-1) > 1:
        raise ConfigError(
            f"mesh {dict(zip(MESH_AXES, sizes, strict=False))}: at most one axis may be -1"
        )
    known = math.prod(s for s in sizes if s != -1)
    if known <= 0 or num_devices % known:
        raise ConfigError(
            f"mesh {dict(zip(MESH_AXES, sizes, strict=False))} does not divide the {num_devices} devices: "
            "choose axis sizes whose product divides the device count (use -1 to fill one)"
        )
    sizes = [num_devices // known if s == -1 else s for s in sizes]
    if math.prod(sizes) != num_devices:
        raise ConfigError(
            f"mesh {dict(zip(MESH_AXES, sizes, strict=False))} uses {math.prod(sizes)} of {num_devices} "
            "devices: the product of the axes must equal the device count"
        )
    return tuple(sizes)


def make_mesh(mesh_cfg, devices=None) -> Mesh:
    devices = jax.devices() if devices is None else devices
    shape = mesh_shape(mesh_cfg, len(devices))
    try:
        arr = mesh_utils.create_device_mesh(shape, devices)
    except (ValueError, NotImplementedError, AssertionError):  # CPU, odd host counts
        arr = np.asarray(devices).reshape(shape)
    return Mesh(arr, MESH_AXES)


def batch_split(mesh: Mesh) -> int:
    return mesh.shape["data"] * mesh.shape["fsdp"]


def check_batch(batch_size: int, mesh: Mesh, grad_accum: int = 1) -> None:
    split = batch_split(mesh)
    if batch_size % (split * grad_accum):
        raise ConfigError(
            f"batch_size={batch_size} is not divisible by data x fsdp = {split}"
            + (f" x grad_accum = {grad_accum}" if grad_accum > 1 else "")
            + ": change batch_size or the mesh"
        )
    if batch_size % jax.process_count():
        raise ConfigError(
            f"batch_size={batch_size} is not divisible by the {jax.process_count()} processes"
        )


def logical_shardings(abstract_tree, mesh: Mesh, rules):
    """NamedShardings for a tree of nn.LogicallyPartitioned leaves (from eval_shape)."""
    specs = nn.get_partition_spec(abstract_tree)
    return nn.logical_to_mesh_sharding(specs, mesh, rules)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def global_batch(local: dict, mesh: Mesh) -> dict:
    """Global arrays from this process's rows (each process holds batch/process_count)."""
    sharding = batch_sharding(mesh)
    return {
        k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local.items()
    }


def rules_of(c) -> tuple:
    """The config's logical-axis rules as nested tuples (a JSON round trip gives lists)."""
    rules = tuple((name, tuple(m) if isinstance(m, list) else m) for name, m in c.logical_rules)
    if not rules:
        raise ConfigError("logical_rules is empty: start from configs/common.py's sharding_rules()")
    return rules


class MeshRules:
    """The mesh and logical-axis rules active while tracing, compiling and running steps.

    `jax.set_mesh` replaces the deprecated `with mesh:`; every jitted step gets explicit
    in/out shardings, so no input arrives unsharded.
    """

    def __init__(self, mesh: Mesh, rules):
        self.mesh, self.rules = mesh, rules

    def __enter__(self):
        self._m = jax.set_mesh(self.mesh)
        self._m.__enter__()
        self._r = nn.logical_axis_rules(self.rules)
        self._r.__enter__()
        return self

    def __exit__(self, *exc):
        self._r.__exit__(*exc)
        self._m.__exit__(*exc)
