"""A time budget lays the schedule over the steps that fit in it (train/budget.py): the
laid schedule, the plan a budget run fixes, and its resume (after kill -9: train_resume_test.py;
over two processes: train_distributed_test.py). Time comes from a fake clock, so nothing
here depends on how fast the machine is."""

import itertools
import os
import time

import jax
import jax.numpy as jnp
import optax
import pytest
from train_helpers import FakeClock, micro_config

from w2v2jax.train import budget, loop, optim
from w2v2jax.train.metrics import read_metrics

SCHEDULES = ["cosine", "linear", "tri_stage", "constant"]


def _schedule(name, **kw):
    c = micro_config("", schedule=name, total_steps=100, warmup_steps=10, learning_rate=1.0)
    c.time_budget_s = 60.0
    for k, v in kw.items():
        c[k] = v
    return optim.make_optimizer(c)


def _plan(planned, at=0):
    return optim.PlanState(*(jnp.int32(v) for v in (0, planned, at)), jnp.float32(0.0))


@pytest.mark.parametrize("name", SCHEDULES)
def test_laid_schedule_ends_at_the_plan_and_keeps_the_warmup(name):
    _, s = _schedule(name)
    plan = _plan(40, at=3)
    assert float(s.laid(40, plan)) == pytest.approx(float(s(100)), rel=1e-6)
    for step in range(s.warmup + 1):
        assert float(s.laid(step, plan)) == float(s(step)), step
    laid = [float(s.laid(k, plan)) for k in range(s.warmup, 41)]
    assert all(b <= a + 1e-7 for a, b in itertools.pairwise(laid))  # decays only
    for step in (0, 5, 17, 63, 99, 100):
        assert float(s.laid(step, _plan(100))) == float(s(step))  # planned == total
        assert float(s.laid(step, _plan(0))) == float(s(step))  # not fixed yet


def test_a_plan_fixed_after_the_warmup_changes_nothing_before_it():
    _, s = _schedule("cosine", warmup_steps=2)
    plan = _plan(50, at=8)
    for step in range(9):
        assert float(s.laid(step, plan)) == float(s(step))
    assert float(s.laid(9, plan)) == pytest.approx(float(s(8)), rel=0.05)  # no jump
    assert float(s.laid(50, plan)) == pytest.approx(float(s(100)), rel=1e-6)


def _params():
    return {"w": jnp.linspace(-1.0, 1.0, 5), "b": jnp.ones(3)}


def _updates(tx, state, steps=4):
    params, out = _params(), []
    grads = jax.tree.map(lambda x: jnp.cos(3.0 * x), params)
    for _ in range(steps):
        u, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, u)
        out.append(params)
    return out, state


def test_the_budget_optimizer_applies_and_reports_the_laid_rate():
    c = micro_config("", total_steps=20, warmup_steps=2, learning_rate=0.1)
    plain, _ = optim.make_optimizer(c)
    c.time_budget_s = 60.0
    tx, schedule = optim.make_optimizer(c)
    # Before a plan is fixed it is AdamW to the bit.
    a, _ = _updates(plain, plain.init(_params()))
    b, _ = _updates(tx, tx.init(_params()))
    assert jax.tree.map(lambda x, y: bool(jnp.all(x == y)), a, b) == jax.tree.map(lambda _: True, a)
    state = optim.replace_plan(
        tx.init(_params()), planned_steps=jnp.int32(6), planned_at=jnp.int32(1)
    )
    _, state = _updates(tx, state, steps=5)
    rate = optim.applied_rate(schedule, state, 5)
    assert float(rate) == float(schedule.laid(5, _plan(6, at=1)))
    assert float(rate) < float(schedule(5))
    assert float(optim.applied_rate(schedule, plain.init(_params()), 5)) == float(schedule(5))


def test_checkpoint_layouts_convert_both_ways():
    c = micro_config("", total_steps=20)
    plain, _ = optim.make_optimizer(c)
    c.time_budget_s = 60.0
    planned, _ = optim.make_optimizer(c)
    p_state, b_state = plain.init(_params()), planned.init(_params())

    def zero(like, dtype):
        return jnp.zeros((), dtype)

    as_plain = optim.relayout(b_state, False, zero)
    assert jax.tree.structure(as_plain) == jax.tree.structure(p_state)
    assert jax.tree.structure(optim.relayout(p_state, True, zero)) == jax.tree.structure(b_state)


def _train(data_dir, wd, clock, **overrides):
    c = micro_config(data_dir, total_steps=16, time_budget_s=4.0, **overrides)
    trainer = loop.Trainer(c, wd, devices=jax.devices()[:1], clock=clock)
    return c, trainer.run()


def _rows(wd, key):
    return {r["step"]: r[key] for r in read_metrics(wd) if key in r}


@pytest.fixture
def short_window(monkeypatch):
    monkeypatch.setattr(budget, "MEASURE_SKIP", 1)
    monkeypatch.setattr(budget, "MEASURE_STEPS", 4)  # two checkpoint periods: an even load


def test_a_budget_run_fixes_its_plan_and_ends_the_schedule_there(
    tiny_corpus, tmp_path, short_window, capfd
):
    wd = str(tmp_path / "run")
    c, summary = _train(tiny_corpus, wd, FakeClock(), eval_every=4)
    (at,) = _rows(wd, "planned_eval_seconds")  # the plan's row (the summary has it too)
    planned = _rows(wd, "planned_steps")[at]
    assert at == 5 and at < planned < c.total_steps
    # One validation pass is timed for the plan (and logged), the others come as configured.
    assert _rows(wd, "planned_eval_seconds")[at] > 0
    assert sorted(_rows(wd, "validation/cer")) == [4, 5, *range(8, planned, 4), planned]
    assert summary["step"] == planned and summary["planned_steps"] == planned
    assert summary["planned_seconds_per_step"] == _rows(wd, "planned_seconds_per_step")[at] > 0
    err = capfd.readouterr().err
    assert f"the schedule is laid over {planned} steps" in err
    assert "time budget of 4 s reached" not in err  # the plan ends the run, not the clock
    # Each logged rate is the one applied: the configured schedule until the plan, then
    # the laid one, which reaches the schedule's end value at the plan's end.
    _, schedule = optim.make_optimizer(c)
    plan = _plan(planned, at=at)
    for step, lr in _rows(wd, "learning_rate").items():
        want = schedule(step - 1) if step <= at else schedule.laid(step - 1, plan)
        assert lr == pytest.approx(float(want), rel=1e-6), step
    assert float(schedule.laid(planned, plan)) == pytest.approx(float(schedule(c.total_steps)))


def test_a_resumed_run_keeps_its_plan_and_ends_as_an_uninterrupted_one(
    tiny_corpus, tmp_path, short_window, capfd
):
    ref, cut = str(tmp_path / "ref"), str(tmp_path / "cut")
    _, s_ref = _train(tiny_corpus, ref, FakeClock())
    # The same run on a machine that gets ten times slower after the plan: the budget stops
    # it early and the schedule is cut short; a second run resumes and trains to the plan.
    _, s_first = _train(tiny_corpus, cut, FakeClock(slow_after=30, slow=10.0))
    assert s_first["step"] < s_ref["planned_steps"] == s_first["planned_steps"]
    assert "the schedule, fixed, is cut short there" in capfd.readouterr().err
    _, s_cut = _train(tiny_corpus, cut, FakeClock(tick=0.2))  # a new budget, another speed
    assert s_cut["step"] == s_cut["planned_steps"] == s_ref["planned_steps"]
    assert _rows(cut, "loss") == _rows(ref, "loss")
    assert _rows(cut, "learning_rate") == _rows(ref, "learning_rate")
    assert s_cut["validation/loss"] == s_ref["validation/loss"]


def test_checkpoints_with_and_without_a_plan_resume_in_either_kind_of_run(
    tiny_corpus, tmp_path, short_window, capfd
):
    wd = str(tmp_path / "run")
    plain = micro_config(tiny_corpus, total_steps=4)
    loop.Trainer(plain, wd, devices=jax.devices()[:1]).run()
    # A checkpoint without a plan (as every one before budgets were planned) resumes in a
    # budget run, which measures from there and plans.
    c, summary = _train(tiny_corpus, wd, FakeClock())
    (at,) = _rows(wd, "planned_eval_seconds")
    planned = summary["planned_steps"]
    assert at == 4 + 1 + 4 and summary["step"] == planned < c.total_steps
    # The run without a budget drops the plan and lays the schedule over total_steps again.
    plain.total_steps = c.total_steps
    summary = loop.Trainer(plain, wd, devices=jax.devices()[:1]).run()
    assert summary["step"] == c.total_steps and "planned_steps" not in summary
    assert "holds a time budget's plan" in capfd.readouterr().err
    _, schedule = optim.make_optimizer(plain)
    rates = _rows(wd, "learning_rate")
    for step in range(planned + 1, c.total_steps + 1):
        assert rates[step] == pytest.approx(float(schedule(step - 1)), rel=1e-6), step


def test_the_cpu_clock_counts_this_process_work_not_waiting():
    """A cpu budget (c.time_budget_clock) advances with this process's CPU time per core:
    not while it sleeps (a machine busy with other work), and while it computes."""
    c = micro_config("", time_budget_clock="cpu")
    clock = budget.make_clock(c)
    assert budget.make_clock(micro_config("")) is time.perf_counter
    t0 = clock()
    time.sleep(0.3)
    slept = clock() - t0
    p0, t0 = time.process_time(), clock()
    while time.process_time() - p0 < 0.2:
        sum(i * i for i in range(1000))
    busy, used = clock() - t0, time.process_time() - p0
    assert slept < 0.05
    assert busy == pytest.approx(used / len(os.sched_getaffinity(0)), rel=0.05)
