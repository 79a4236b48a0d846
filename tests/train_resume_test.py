"""kill -9 in the middle of a run holding every piece of state a resume must restore: the
time budget's plan (train/budget.py), the augmentation's draws (data/augment.py), the data
order and the optimizer. The killed run, started again, ends exactly as an uninterrupted one.

One run carries them all because each kill -9 test is three training processes (the
reference, the killed one, the resume), most of their time starting jax and compiling: three
such tests took 2-3 minutes each of a 2-core machine. The resume without a plan or
augmentation is train_faults_test's (six kills and a damaged checkpoint, through the CLI);
another objective's is train_objectives_test's and train_pretrain_test's.
"""

import os
import sys

import numpy as np
import pytest
from data_augment_pipeline_test import ALL_ON
from train_helpers import run_killed_then_resumed

from w2v2jax.train.metrics import read_metrics

HERE = os.path.dirname(__file__)
TOTAL_STEPS, KILL_AT = 16, 6


def _cmd(data_dir, wd):
    overrides = {f"augment.{k}": v for k, v in ALL_ON.items()}
    script = (
        f"import sys; sys.path.insert(0, {HERE!r})\n"
        "import jax\n"
        "from train_helpers import FakeClock, micro_config\n"
        "from w2v2jax.train import budget, loop\n"
        "budget.MEASURE_SKIP, budget.MEASURE_STEPS = 1, 4\n"
        f"c = micro_config({data_dir!r}, total_steps={TOTAL_STEPS}, time_budget_s=4.0, "
        f"checkpoint_every=2, eval_splits=('validation',), **{overrides!r})\n"
        f"loop.Trainer(c, {wd!r}, devices=jax.devices()[:1], clock=FakeClock()).run()\n"
    )
    return [sys.executable, "-c", script]


def _rows(wd, key):
    return {r["step"]: r[key] for r in read_metrics(wd) if key in r}


@pytest.mark.slow
def test_kill9_with_a_plan_and_augmentation_resumes_exactly(tiny_corpus, tmp_path):
    ref, killed = str(tmp_path / "ref"), str(tmp_path / "killed")
    run_killed_then_resumed(lambda wd: _cmd(tiny_corpus, wd), ref, killed, KILL_AT)
    # The plan: fixed before the checkpoint the resume starts from, kept by it, and the run
    # ends there (the plan's row and the summary's row hold the same count).
    plans = [_rows(wd, "planned_steps") for wd in (ref, killed)]
    assert plans[0] == plans[1] and len(set(plans[0].values())) == 1
    planned = plans[0][min(plans[0])]
    assert min(plans[0]) < KILL_AT < planned < TOTAL_STEPS
    # Every step's loss (the augmented audio, the data order, the parameters) and rate.
    a, b = _rows(ref, "loss"), _rows(killed, "loss")
    assert sorted(a) == sorted(b) == list(range(1, planned + 1))
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-6, abs=1e-7), step
    assert _rows(killed, "learning_rate") == _rows(ref, "learning_rate")
    np.testing.assert_equal(_rows(killed, "validation/cer"), _rows(ref, "validation/cer"))
    va, vb = _rows(ref, "validation/loss"), _rows(killed, "validation/loss")
    assert sorted(va) == sorted(vb) == [planned]
    assert vb[planned] == pytest.approx(va[planned], rel=1e-6)
