"""Multi-host start-up: jax.distributed from flags or from the usual environment.

On TPU pods and SLURM, jax.distributed.initialize() finds the coordinator itself; the
flags serve everywhere else (and the two-process CPU tests on 127.0.0.1).
"""

import os

import jax

from w2v2jax.errors import UsageError

_ENV_HINTS = (
    "SLURM_NTASKS",
    "TPU_WORKER_HOSTNAMES",
    "MEGASCALE_COORDINATOR_ADDRESS",
    "JAX_COORDINATOR_ADDRESS",
    "OMPI_COMM_WORLD_SIZE",
)


def initialize(coordinator_address=None, num_processes=None, process_id=None) -> None:
    if jax.distributed.is_initialized():
        return
    if coordinator_address:
        if num_processes is None or process_id is None:
            raise UsageError("--coordinator_address needs --num_processes and --process_id as well")
        jax.distributed.initialize(
            coordinator_address=coordinator_address,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=120,
        )
        return
    if _auto_environment():
        jax.distributed.initialize()


def _auto_environment() -> bool:
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        return True
    return any(k in os.environ for k in _ENV_HINTS if k != "SLURM_NTASKS")
