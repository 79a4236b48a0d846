"""One run per workdir (issue 13, items 2 and 10)."""

import os
import subprocess
import sys

import pytest

from w2v2jax.errors import WorkdirError
from w2v2jax.train.workdir_lock import WorkdirLock

HOLD = """
import sys, time
from w2v2jax.train.workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(WorkdirError, match=f"in use by another run \\(pid {proc.pid} on "):
            WorkdirLock(str(tmp_path)).acquire()
    finally:
        proc.kill()
        proc.wait()
    # killed (as by kill -9): the kernel released the lock, a new run takes it
    WorkdirLock(str(tmp_path)).acquire().release()


def test_release_lets_the_next_run_in(tmp_path):
    with WorkdirLock(str(tmp_path)):
        pass
    with WorkdirLock(str(tmp_path)):
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_read_only_workdir_is_one_sentence(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(WorkdirError, match="cannot write to the workdir .*Permission denied"):
            WorkdirLock(str(tmp_path / "run")).acquire()
    finally:
        tmp_path.chmod(0o755)


def test_unwritable_workdir_is_one_sentence_even_as_root(tmp_path, monkeypatch):
    """Root ignores folder permissions, so the refusal is simulated where it would occur."""

    def refuse(path, *a, **kw):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("w2v2jax.train.workdir_lock.open", refuse, raising=False)
    with pytest.raises(WorkdirError, match="cannot write to the workdir .*Permission denied"):
        WorkdirLock(str(tmp_path / "run")).acquire()
