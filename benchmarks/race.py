"""Round-robin timing shared by the side-by-side benchmarks (ours against a reference)."""

import statistics
import time


def race(fns: dict, reps: int) -> dict:
    """Per blocking callable: wall seconds of each call, and the median process CPU seconds
    (all threads). Calls are interleaved rep by rep so a busy machine slows all alike; CPU
    time is less sensitive to other processes than wall time."""
    walls, cpus = {k: [] for k in fns}, {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[k].append(time.perf_counter() - t0)
            cpus[k].append(time.process_time() - c0)
    return {k: (walls[k], statistics.median(cpus[k])) for k in fns}


def fmt_reps(xs) -> str:
    """Seconds of each rep, two decimals, space-separated."""
    return " ".join(f"{x:.2f}" for x in xs)
