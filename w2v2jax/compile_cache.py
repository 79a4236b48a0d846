"""JAX's persistent compilation cache, on for the CLI, the demo and the tests.

XLA compiles every jitted step anew in each process: on the 2-core CPU machine the demo's
bucket steps took ~60 s, and the test suite compiles hundreds of small programs. With the
cache on, a program compiled once (same HLO, jax version, devices and flags) is read back
from disk in milliseconds by every later process.

The folder is `$W2V2JAX_CACHE_DIR` or `~/.cache/w2v2jax/jax`; `W2V2JAX_COMPILE_CACHE=0`
turns the cache off. Several processes may share one folder (pytest-xdist workers, a run
and `w2v2jax transcribe` side by side): setting a size limit makes jax take a file lock
around every read and write (`filelock`), so no process reads a half-written entry, and
evicts the least recently used entries beyond the limit.
"""

import logging
import os

ENV_DIR = "W2V2JAX_CACHE_DIR"
ENV_SWITCH = "W2V2JAX_COMPILE_CACHE"
MAX_BYTES = 4 << 30


def default_dir() -> str:
    return os.environ.get(ENV_DIR) or os.path.join(
        os.path.expanduser("~"), ".cache", "w2v2jax", "jax"
    )


def enable(path: str | None = None, min_compile_secs: float = 1.0) -> str | None:
    """Caches every program that took at least `min_compile_secs` to compile, in `path`
    (default: `default_dir()`). Call before the first jit: jax reads these settings once,
    at its first compile. Returns the folder, or None when W2V2JAX_COMPILE_CACHE=0 or the
    folder cannot be created."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return None
    import jax  # here, not at the top: cli.py may import this before its tcmalloc re-exec

    path = os.path.abspath(path or default_dir())
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:  # a speed-up only: run without it rather than stop
        logging.getLogger(__name__).warning("compilation cache off: cannot create %s (%s)", path, e)
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_secs))
    # -1: cache whatever the size (0 would let jax raise the floor for remote filesystems).
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    # A limit (not -1) is what turns on jax's file lock; see the module docstring.
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return path
