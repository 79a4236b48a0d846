"""Optimizers and learning-rate schedules of the wav2vec2 recipes, built from the config.

Freezing follows the fine-tuning recipe: the feature encoder can stay frozen for the
whole run, and the transformer (everything but the CTC head) for its first N updates.
Frozen leaves get zero gradients going in and zero updates coming out, so neither AdamW's
moments nor its decoupled weight decay move them.
"""

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


def make_optimizer(c) -> tuple[optax.GradientTransformation, optax.Schedule]:
    schedule = make_schedule(c)
    chain = [
        optax.clip_by_global_norm(c.grad_clip) if c.grad_clip > 0 else optax.identity(),
        optax.adamw(schedule, b1=c.b1, b2=c.b2, eps=c.adam_eps, weight_decay=c.weight_decay),
    ]
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
