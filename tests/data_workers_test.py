"""ordered_map: results in input order whatever the threads' finishing order, errors raised."""

import threading
import time

import pytest

from w2v2jax.data import workers


def test_results_come_in_input_order_and_run_concurrently():
    running, peak, lock = [0], [0], threading.Lock()

    def slow_first(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02 if i % 3 == 0 else 0.001)
        with lock:
            running[0] -= 1
        return i * i

    assert list(workers.ordered_map(slow_first, list(range(40)), 3, "t")) == [
        i * i for i in range(40)
    ]
    assert 1 < peak[0] <= 3


def test_an_error_in_a_worker_reaches_the_caller():
    def fail_on_five(i):
        if i == 5:
            raise ValueError("bad item 5")
        return i

    with pytest.raises(ValueError, match="bad item 5"):
        list(workers.ordered_map(fail_on_five, list(range(10)), 2, "t"))
    assert list(workers.ordered_map(fail_on_five, [], 0, "t")) == []
