"""Optimizers and learning-rate schedules of the wav2vec2 recipes, built from the config.

Freezing follows the fine-tuning recipe: the feature encoder can stay frozen for the
whole run, and the transformer (everything but the CTC head) for its first N updates.
Frozen leaves get zero gradients going in and zero updates coming out, so neither AdamW's
moments nor its decoupled weight decay move them.

A run with a time budget (c.time_budget_s) scales its updates with `scale_by_planned_schedule`
instead of AdamW's own schedule scaling: the same schedule, laid over the step count the run
fixes once it has measured its speed (train/budget.py). That plan is data in the optimizer
state (`PlanState`), so the jitted step reads it, fixing it does not recompile, and every
checkpoint carries it. Runs without a budget keep `optax.adamw` exactly as it was.
"""

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from w2v2jax.errors import ConfigError


def make_schedule(c) -> optax.Schedule:
    """c: the training config (learning_rate, warmup_steps, total_steps, schedule, ...)."""
    peak, total = c.learning_rate, c.total_steps
    # Decaying schedules need their warmup inside the run; "constant" does not depend on total.
    warmup = min(c.warmup_steps, max(total - 1, 0))
    if c.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0, peak, warmup, max(total, warmup + 1), end_value=peak * c.final_lr_ratio
        )
    if c.schedule == "linear":
        return optax.join_schedules(
            [
                optax.linear_schedule(0.0, peak, warmup),
                optax.linear_schedule(peak, peak * c.final_lr_ratio, max(total - warmup, 1)),
            ],
            [warmup],
        )
    if c.schedule == "tri_stage":
        return tri_stage_schedule(peak, total, c.tri_stage, c.final_lr_ratio)
    if c.schedule == "constant":
        w = c.warmup_steps
        return optax.join_schedules(
            [optax.linear_schedule(0.0, peak, w), optax.constant_schedule(peak)], [w]
        )
    raise ConfigError(f"schedule={c.schedule!r}: cosine, linear, tri_stage or constant")


def tri_stage_schedule(peak: float, total: int, fractions, final_ratio: float):
    """fairseq's tri-stage: linear warmup from 1% of peak, hold, exponential decay."""
    warm, hold, decay = (int(f * total) for f in fractions)
    init = peak * 0.01
    final = peak * final_ratio

    def schedule(step):
        step = jnp.asarray(step, jnp.float32)
        up = init + (peak - init) * step / max(warm, 1)
        t = (step - warm - hold) / max(decay, 1)
        down = peak * jnp.exp(jnp.log(final / peak) * jnp.clip(t, 0.0, 1.0))
        return jnp.where(step < warm, up, jnp.where(step < warm + hold, peak, down))

    return schedule


def _labels(params, prefixes):
    """True for leaves whose path starts with one of `prefixes` (tuples of keys)."""

    def label(path, _):
        keys = tuple(getattr(p, "key", str(p)) for p in path)
        return any(keys[: len(pre)] == pre for pre in prefixes)

    return jax.tree_util.tree_map_with_path(label, params)


class FreezeState(NamedTuple):
    count: jax.Array
    inner: optax.OptState


def freeze(inner: optax.GradientTransformation, always, until_step, steps: int):
    """Wraps `inner`: leaves labelled by `always(params)` never move, those labelled by
    `until_step(params)` stay put while the update count is below `steps`."""

    def init(params):
        return FreezeState(jnp.zeros([], jnp.int32), inner.init(params))

    def update(grads, state, params=None):
        fixed = always(grads)
        early = until_step(grads)
        hold = state.count < steps

        def mask(tree):
            return jax.tree.map(
                lambda x, f, e: jnp.where(f | (e & hold), jnp.zeros_like(x), x), tree, fixed, early
            )

        updates, inner_state = inner.update(mask(grads), state.inner, params)
        return mask(updates), FreezeState(state.count + 1, inner_state)

    return optax.GradientTransformation(init, update)


FEATURE_ENCODER = (("wav2vec2", "feature_extractor"),)
TRANSFORMER = (("wav2vec2",),)


def make_optimizer(c) -> tuple[optax.GradientTransformation, "Schedule"]:
    schedule = Schedule(make_schedule(c), c.total_steps, warmup_end(c))
    if c.time_budget_s:
        adam = optax.chain(
            optax.scale_by_adam(b1=c.b1, b2=c.b2, eps=c.adam_eps),
            optax.add_decayed_weights(c.weight_decay),
            scale_by_planned_schedule(schedule),
        )
    else:
        adam = optax.adamw(schedule, b1=c.b1, b2=c.b2, eps=c.adam_eps, weight_decay=c.weight_decay)
    chain = [optax.clip_by_global_norm(c.grad_clip) if c.grad_clip > 0 else optax.identity(), adam]
    tx = optax.chain(*chain)
    if c.freeze_feature_encoder or c.freeze_transformer_steps > 0:
        never = FEATURE_ENCODER if c.freeze_feature_encoder else ()
        tx = freeze(
            tx,
            lambda t: _labels(t, never),
            lambda t: _labels(t, TRANSFORMER),
            c.freeze_transformer_steps,
        )
    return tx, schedule


def warmup_end(c) -> int:
    """The step where the schedule's warmup (tri_stage: its first stage) ends; a plan keeps
    the schedule up to there in absolute steps."""
    if c.schedule == "tri_stage":
        return int(c.tri_stage[0] * c.total_steps)
    if c.schedule == "constant":
        return c.warmup_steps
    return min(c.warmup_steps, max(c.total_steps - 1, 0))


class PlanState(NamedTuple):
    """The state of `scale_by_planned_schedule`: optax's update count and the plan the loop
    fixes once (planned_steps 0 = not fixed yet: the configured schedule runs as it is)."""

    count: jax.Array  # int32: updates applied
    planned_steps: jax.Array  # int32: the steps the schedule is laid over
    planned_at: jax.Array  # int32: the step at which the plan was fixed
    seconds_per_step: jax.Array  # float32: the measured rate it came from (a record)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The configured schedule (called with a step like any optax schedule) and what laying
    it over a plan needs: its total and the end of its warmup."""

    base: Callable
    total: int
    warmup: int

    def __call__(self, step):
        return self.base(step)

    def laid(self, step, plan: PlanState):
        """The rate at `step` of this schedule laid over plan.planned_steps: the configured
        schedule at a warped step that keeps it unchanged up to the anchor, max(end of
        warmup, step the plan was fixed at), then runs linearly faster so that
        planned_steps maps to total and the end value comes with the plan's end. The anchor
        keeps the rate continuous: with the plan fixed inside the warmup nothing changes
        before the warmup ends; fixed after it (a warmup shorter than the measuring window),
        the steps until then followed the configured, slower decay and the rest of it is
        compressed from there. planned_steps 0 (no plan yet) or >= total: unchanged."""
        anchor = jnp.maximum(self.warmup, plan.planned_at)
        span = jnp.maximum(plan.planned_steps - anchor, 1).astype(jnp.float32)
        offset = jnp.asarray(step, jnp.float32) - anchor
        room = (self.total - anchor).astype(jnp.float32)
        # (offset * room) / span, in this order: at the plan's end offset == span and the
        # quotient is exact, so the warped step is exactly total and the value its end.
        warped = anchor + offset * room / span
        laid = (plan.planned_steps > 0) & (plan.planned_steps < self.total) & (step > anchor)
        return jnp.where(laid, self.base(warped), self.base(step))


def scale_by_planned_schedule(schedule: Schedule) -> optax.GradientTransformation:
    """optax.scale_by_learning_rate(schedule) whose rate follows the plan in its state."""

    def init(params):
        del params
        zero = jnp.zeros([], jnp.int32)
        return PlanState(zero, zero, zero, jnp.zeros([], jnp.float32))

    def update(updates, state, params=None):
        del params
        rate = -schedule.laid(state.count, state)
        updates = jax.tree.map(lambda g: jnp.array(rate, dtype=g.dtype) * g, updates)
        return updates, state._replace(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init, update)


def _is_rate_state(x) -> bool:
    return isinstance(x, PlanState | optax.ScaleByScheduleState)


def plan_of(opt_state) -> PlanState | None:
    """The PlanState inside an optimizer state (None in a run without a time budget)."""
    found = [
        s for s in jax.tree.leaves(opt_state, is_leaf=_is_rate_state) if isinstance(s, PlanState)
    ]
    return found[0] if found else None


def applied_rate(schedule, opt_state, step):
    """The learning rate the optimizer applies at `step` (what the train step logs)."""
    plan = plan_of(opt_state)
    return schedule(step) if plan is None else schedule.laid(step, plan)


def replace_plan(opt_state, **values):
    """opt_state with the PlanState fields in `values` replaced (leaves, placed by the caller)."""

    def put(node):
        return node._replace(**values) if isinstance(node, PlanState) else node

    return jax.tree.map(put, opt_state, is_leaf=_is_rate_state)


def relayout(opt_state, planned: bool, new_leaf):
    """opt_state (arrays or abstract arrays) in the layout of a run with a time budget
    (planned: a PlanState where AdamW keeps its ScaleByScheduleState) or without one, so a
    checkpoint written by either kind of run resumes in the other; the count is kept.
    new_leaf(like, dtype) makes a zero scalar placed like `like` for the fields added."""

    def convert(node):
        if planned and isinstance(node, optax.ScaleByScheduleState):
            n = node.count
            return PlanState(
                n, new_leaf(n, jnp.int32), new_leaf(n, jnp.int32), new_leaf(n, jnp.float32)
            )
        if not planned and isinstance(node, PlanState):
            return optax.ScaleByScheduleState(node.count)
        return node

    return jax.tree.map(convert, opt_state, is_leaf=_is_rate_state)
