"""The XLA flags of the suite and of every process its tests start.

LLVM at -O1 instead of XLA's -O2: the suite is compile-bound on 2 CPU cores (most tests
train a few steps of a small model, each in a fresh process). Measured on the quick
ablation's conv run (2-vCPU AMD EPYC): compilation 34 -> 22 s, the 24 training steps
5.2 -> 5.5 s; -O0 compiled in 12 s but trained 3x slower. Users' runs keep XLA's default."""

import os

FAST_COMPILE = "--xla_backend_optimization_level=1"


def flags(devices: int = 1) -> str:
    """XLA_FLAGS for a process with `devices` CPU devices."""
    if devices == 1:
        return FAST_COMPILE
    return f"{FAST_COMPILE} --xla_force_host_platform_device_count={devices}"


def env(devices: int = 1, **extra: str) -> dict[str, str]:
    """os.environ for a subprocess: these flags, `devices` CPU devices, and `extra`."""
    return {**os.environ, "XLA_FLAGS": flags(devices), **extra}
