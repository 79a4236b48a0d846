"""A thread pool that maps over a dataset's items in order, for the dataset builders."""

import collections
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm


def ordered_map(fn, items, num_workers: int, desc: str):
    """fn over items in order, `num_workers` at a time, with a progress bar.

    Threads suffice: each call spends its time in a flite/espeak-ng/libsndfile process or C
    code, and threads avoid multiprocessing's start-method pitfalls in callers' programs.
    """
    with (
        ThreadPoolExecutor(max(1, num_workers)) as pool,
        tqdm(total=len(items), desc=desc, unit="utt", leave=False) as bar,
    ):
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 8 * num_workers:
                bar.update()
                yield pending.popleft().result()
        while pending:
            bar.update()
            yield pending.popleft().result()
