"""A time budget lays the learning-rate schedule over the steps that fit in it.

A budget used to stop the loop wherever the clock ran out, so on a busy machine a schedule
laid out for total_steps was cut in the middle of its decay (issue 16: 827 of 1200 steps,
the rate still at 40 % of its peak) and a run's quality hinged on the machine's load. Now:

1. Measure. The steps were compiled before the clock started (precompile; with
   c.precompile off, compilations fall into the window and the plan comes out short). The
   run lets MEASURE_SKIP steps pass (the input pipeline settles, each bucket's step has run
   once), then times MEASURE_STEPS steps; time spent in evaluations and checkpoint saves
   is left out of the rate.
2. Fix the plan. planned_steps = min(total_steps, the steps that fit in what is left of
   the budget less MARGIN), a step costing the measured time plus its share of the
   evaluations and saves to come, which the budget counts too: one validation pass is
   timed right then (and logged like any other), a save costs the mean of those timed so
   far (none yet: nothing, which MARGIN covers). Every host takes process 0's figures, so
   all fix the same plan and stop at the same step.
3. Keep it. The plan lives in the optimizer state (optim.PlanState): the jitted step lays
   the schedule over it (optim.Schedule.laid, which says how warmup is kept), the loop
   stops at it, and every checkpoint carries it, so a resumed run (kill -9 included) keeps
   it and ends exactly as an uninterrupted one. It is never measured again; a run resumed
   from a checkpoint older than its plan measures anew.
4. The budget still stops the run: if the machine slows down after the plan was fixed,
   the run stops at the budget before planned_steps and the schedule, fixed, is cut short
   there (told; a rerun resumes and trains on to planned_steps with a new budget).

Which seconds the budget counts (c.time_budget_clock): "wall" seconds, or "cpu": this
process's CPU seconds (all its threads: the jitted steps' and the input pipeline's) over
the cores it may use. On an idle machine the two run at about the same pace; another
process spinning on one of two cores halves the steps a wall budget buys (the demo: 586
steps instead of 1094, validation CER 13.1 % instead of 3.0 %), while the cpu clock slows
with the run and buys the same steps in more wall time. A deadline is a wall budget; a
result that must not depend on the machine's load is a cpu budget.

Runs without a budget hold no plan and train exactly as before. The loop's clock is
injectable (Trainer(clock=...)), so tests fix the measured rate instead of timing.
"""

import dataclasses
import os
import time

import jax
import numpy as np
from jax.experimental import multihost_utils

from w2v2jax.train import checkpoint, optim
from w2v2jax.train.metrics import tell

# The first run of each bucket's compiled step is slow (buffers, caches): in the demo, steps
# 1-40 ran at 21-42 s of audio per second and every later window at ~50, so a window over
# steps 3-22 fixed a plan 20 % short and the run ended with a sixth of its budget unused.
# 80 steps also average over the bucket mix (one step costs 0.23-0.8 s by its bucket). At 8
# utterances a step (the demo since session 9) that window was still too early and too short:
# one seed's steps 41-120 measured 0.192 s a step where the run went on at 0.17, planned
# 2922 steps and left 17 % of its budget unused; the next seed planned 3564 and used 93 %.
# Steps 101-300 still lie inside the usual warmup (300), so the plan changes no rate before
# it is fixed.
MEASURE_SKIP = 100  # at least 1: the window starts after a step
MEASURE_STEPS = 200
MARGIN = 0.02  # of the budget left, for the jitter of the step time and untimed saves
SYNC_EVERY = 10  # steps between the hosts' agreements on the budget's end


CLOCKS = ("wall", "cpu")


def make_clock(c):
    """The seconds c.time_budget_clock counts (module doc)."""
    if c.get("time_budget_clock", "wall") == "wall":
        return time.perf_counter
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def cpu_seconds() -> float:
        return time.process_time() / max(cores or 1, 1)

    return cpu_seconds


@dataclasses.dataclass(frozen=True)
class Plan:
    planned_steps: int
    planned_at: int  # the step at which it was fixed
    seconds_per_step: float  # the measured rate it came from

    def record(self) -> dict:
        """The plan as metrics.jsonl and summary.json record it."""
        return {
            "planned_steps": self.planned_steps,
            "planned_seconds_per_step": self.seconds_per_step,
        }


class Planner:
    """Measures the steps of a budget run and fixes its plan (see the module doc)."""

    def __init__(self, c, start: int, plan: Plan | None):
        self.c, self.plan = c, plan
        self.window = MEASURE_STEPS
        self.begin = start + max(MEASURE_SKIP, 1)
        self.end = self.begin + self.window
        self.mark: tuple[float, float] | None = None
        self.seconds_per_step = 0.0
        self.save_seconds: list[float] = []

    @property
    def measuring(self) -> bool:
        return bool(self.c.time_budget_s) and self.plan is None

    def observe(self, step: int, t_train: float, overhead: float) -> bool:
        """Called after each train step with the training time so far and the part of it
        spent in evaluations and saves; True when the window is complete: fix the plan."""
        if not self.measuring:
            return False
        if step == self.begin:
            self.mark = (t_train, overhead)
        if step != self.end or self.mark is None:
            return False
        t0, o0 = self.mark
        self.seconds_per_step = max((t_train - t0) - (overhead - o0), 0.0) / self.window
        return True

    def fix(self, step: int, t_train: float, eval_seconds: float = 0.0) -> Plan:
        """The plan, from process 0's measurement: t_train is the training time so far,
        eval_seconds what one validation pass took (0 when the run evaluates none)."""
        c = self.c
        cost = self.seconds_per_step
        if c.eval_every and eval_seconds:
            cost += eval_seconds / c.eval_every
        if self.save_seconds:
            cost += float(np.mean(self.save_seconds)) / c.checkpoint_every
        left = max(c.time_budget_s - t_train, 0.0) * (1.0 - MARGIN)
        planned = min(c.total_steps, step + int(left / max(cost, 1e-9)))
        planned, seconds = _from_process_0(planned, self.seconds_per_step)
        self.plan = Plan(planned, step, seconds)
        tell(
            f"time budget of {c.time_budget_s:.0f} s: {seconds:.3g} s per step measured over "
            f"steps {self.begin + 1}-{step}"
            + (f" and {eval_seconds:.1f} s per evaluation" if eval_seconds else "")
            + f", so the schedule is laid over {planned} steps (total_steps {c.total_steps})"
        )
        return self.plan


def _from_process_0(planned: int, seconds: float) -> tuple[int, float]:
    values = (np.asarray(planned, np.int32), np.asarray(seconds, np.float32))
    if jax.process_count() > 1:
        values = multihost_utils.broadcast_one_to_all(values)
    # float32 on every path: a resumed run reads the rate back from the state as float32.
    return int(values[0]), float(np.float32(values[1]))


def over_budget(c, step: int, t_train: float) -> bool:
    """Whether the budget ends the run after `step`. On several hosts process 0 decides,
    every SYNC_EVERY steps, so all stop at the same step (their clocks differ)."""
    if not c.time_budget_s:
        return False
    over = t_train > c.time_budget_s
    if jax.process_count() == 1:
        return over
    if step % SYNC_EVERY:
        return False
    return bool(multihost_utils.broadcast_one_to_all(np.asarray(over, np.int32)))


def read_plan(opt_state) -> Plan | None:
    """The plan an optimizer state holds (None: no budget, or not fixed yet)."""
    state = optim.plan_of(opt_state)
    if state is None:
        return None
    planned, at, seconds = jax.device_get(
        (state.planned_steps, state.planned_at, state.seconds_per_step)
    )
    return Plan(int(planned), int(at), float(seconds)) if planned > 0 else None


def with_plan(opt_state, plan: Plan):
    """opt_state holding `plan`, placed as the state's other scalars (replicated)."""
    like = optim.plan_of(opt_state).count
    return optim.replace_plan(
        opt_state,
        planned_steps=_scalar(plan.planned_steps, np.int32, like),
        planned_at=_scalar(plan.planned_at, np.int32, like),
        seconds_per_step=_scalar(plan.seconds_per_step, np.float32, like),
    )


def _scalar(value, dtype, like):
    if isinstance(like, jax.ShapeDtypeStruct):
        return jax.ShapeDtypeStruct((), dtype, sharding=like.sharding)
    # make_array_from_callback, not device_put: valid for a sharding across hosts as well.
    return jax.make_array_from_callback((), like.sharding, lambda _: np.asarray(value, dtype))


def restore(mngr, step: int, abstract_params, abstract_opt, data_iter):
    """checkpoint.restore onto this run's layout, whether the step was saved by a run with
    a time budget (its optimizer state holds a plan) or without: a checkpoint from before
    budgets were planned resumes and plans, and a run whose budget was dropped resumes
    without the plan (told)."""
    holds = "planned_steps" in checkpoint.saved_keys(mngr, step, "opt")
    wants = optim.plan_of(abstract_opt["opt_state"]) is not None
    if holds == wants:
        return checkpoint.restore(mngr, step, abstract_params, abstract_opt, data_iter)
    out = checkpoint.restore(mngr, step, abstract_params, _relayout(abstract_opt, holds), data_iter)
    if holds:
        tell(
            f"checkpoint step {step} holds a time budget's plan; this run has no time_budget_s, "
            "so its schedule runs over total_steps"
        )
    return {"params": out["params"], "opt": _relayout(out["opt"], wants)}


def _relayout(opt: dict, planned: bool) -> dict:
    new = optim.relayout(opt["opt_state"], planned, lambda like, dt: _scalar(0, dt, like))
    return {**opt, "opt_state": new}
