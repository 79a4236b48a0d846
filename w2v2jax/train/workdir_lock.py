"""One run per workdir: an exclusive lock held by process 0 of the run's process group.

Two `w2v2jax train` processes on one workdir used to both run: one died on an orbax
NOT_FOUND, or both finished with interleaved metrics. The lock is `flock` on
WORKDIR/.lock, which the kernel releases when the holder exits in any way (kill -9
included), so a stale lock can never block a restart. The file records who holds it, for the
message the second run prints. Only process 0 of a multi-host run locks (the others write
nothing but their checkpoint shards, which orbax coordinates); a workdir on a remote
filesystem (gs://...) has no flock and is not locked (a warning says so).
"""

import fcntl
import json
import os
import socket
import time

import jax
from absl import logging

from w2v2jax.errors import WorkdirError

LOCK_NAME = ".lock"


class WorkdirLock:
    def __init__(self, workdir: str):
        self.workdir, self._file = workdir, None

    def acquire(self) -> "WorkdirLock":
        if jax.process_index() != 0 or self._file is not None:
            return self
        if "://" in self.workdir:
            logging.warning(
                "%s is not a local folder: it is not locked against a second run", self.workdir
            )
            return self
        path = os.path.join(self.workdir, LOCK_NAME)
        try:
            os.makedirs(self.workdir, exist_ok=True)
            f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while running)
        except OSError as e:
            raise WorkdirError(
                f"cannot write to the workdir {self.workdir} ({e.strerror}): choose a folder "
                "you can write to with --workdir"
            ) from e
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise WorkdirError(
                f"{self.workdir} is in use by another run ({_describe(holder)}). Wait for it "
                "to finish or stop it, or train in another --workdir; nothing was changed."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        )
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _describe(holder: str) -> str:
    try:
        h = json.loads(holder)
        return f"pid {h['pid']} on {h['host']}, since {h['since']}"
    except (ValueError, KeyError, TypeError):
        return holder
