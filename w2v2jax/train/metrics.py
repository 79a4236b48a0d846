"""Run logs: one JSON object per line in DIR/metrics.jsonl, TensorBoard events, console.

Only process 0 writes. On resume the log is cut back to the restored step, so a run that
was killed and restarted leaves the same lines as one that never stopped. Lines are appended
(rewriting the whole log every step would cost more than the step); a kill in the middle of
an append tears at most the last line, which readers drop with a warning.
"""

import json
import math
import os
import sys

import jax
from absl import logging

from w2v2jax.errors import WorkdirError
from w2v2jax.files import write_text


class MetricsWriter:
    def __init__(self, workdir: str, resume_step: int):
        self.active = jax.process_index() == 0
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.tb = None
        if not self.active:
            return
        self._truncate(resume_step)
        try:
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
        except ImportError:  # TensorBoard events are optional; jsonl is the record
            self.tb = None

    def _truncate(self, step: int) -> None:
        if not os.path.exists(self.path):
            return
        keep = [
            json.dumps(row) + "\n" for row in read_metrics_file(self.path) if row["step"] <= step
        ]
        write_text(self.path, "".join(keep))

    def write(self, step: int, values: dict) -> None:
        if not self.active:
            return
        row = {"step": int(step), **{k: _plain(v) for k, v in values.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    return float(v) if isinstance(v, float) else v


def read_metrics(workdir: str) -> list[dict]:
    return read_metrics_file(os.path.join(workdir, "metrics.jsonl"))


def read_metrics_file(path: str) -> list[dict]:
    """Every row of a metrics.jsonl; a torn last line (a kill during an append) is dropped
    with a warning, a damaged line elsewhere is an error naming it."""
    with open(path, encoding="utf-8") as f:
        lines = [(n, line) for n, line in enumerate(f, 1) if line.strip()]
    rows = []
    for i, (n, line) in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            if i == len(lines) - 1:
                logging.warning(
                    "%s:%d is a torn last line (the run was killed while writing it); dropping it",
                    path,
                    n,
                )
                break
            raise WorkdirError(
                f"{path}:{n} is not a JSON line ({e}); remove that line or restore the file"
            ) from e
    return rows


def tell(message: str) -> None:
    """A fact the user needs (resumed, skipped, moved), on stderr even when logging is off."""
    if jax.process_index() == 0:
        print(f"w2v2jax: {message}", file=sys.stderr, flush=True)
