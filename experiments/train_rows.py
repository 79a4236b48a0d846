"""One training run as one results row: what every sweep (positional ablation, streaming,
pretraining's fine-tuning) does around `Trainer.run`.

    row = finished(workdir)            # a rerun reuses the row a finished run recorded
    trainer, summary = train(c, workdir, row)
    if trainer:                        # None: the run diverged; row says so ("failed: ...")
        row.update(ctc_scores(summary))
        record(workdir, row)

A diverged run is a result too: its row is returned (and not recorded, so a rerun tries
it again), not a crash of the whole sweep.
"""

import json
import math
import os
import time

from w2v2jax.train import Trainer, TrainingError

ROW_FILE = "row.json"


def finished(workdir: str) -> dict | None:
    """The row a finished run recorded in workdir, or None."""
    path = os.path.join(workdir, ROW_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def record(workdir: str, row: dict) -> dict:
    with open(os.path.join(workdir, ROW_FILE), "w") as f:
        json.dump(row, f, indent=1)
    return row


def train(c, workdir: str, row: dict) -> tuple[Trainer | None, dict | None]:
    """(trainer, summary) of the run; (None, None) when it diverged, with `row` updated to
    say so (status "failed: <first line>", wall_seconds)."""
    t0 = time.time()
    try:
        trainer = Trainer(c, workdir)
        return trainer, trainer.run()
    except (TrainingError, FloatingPointError) as e:
        row.update(status=f"failed: {str(e).splitlines()[0]}", wall_seconds=time.time() - t0)
        return None, None


def ctc_scores(summary: dict) -> dict:
    """A CTC run's columns: steps, training seconds, CER/WER on held-out texts, CER on
    held-out voices (overall and per voice group)."""
    return {
        "status": "ok",
        "steps": summary["step"],
        "train_seconds": round(summary["train_seconds"], 1),
        "validation_cer": summary["validation/cer"],
        "validation_wer": summary.get("validation/wer", math.nan),
        "test_cer": summary["test/cer"],
        "test_espeak_cer": summary.get("test/espeak/cer", math.nan),
        "test_flite_cer": summary.get("test/flite/cer", math.nan),
    }
