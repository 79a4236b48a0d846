"""The pure training step of every objective (jitted once by the run assembly).

The objective gives `loss_sums(params, batch, key, step) -> (loss_sum, aux)`: the loss
summed over the batch and `aux`, a dict of sums whose "weight" entry divides it (target
tokens for CTC, masked frames for pretraining); `step` feeds per-step schedules (the Gumbel
temperature). Because everything is a sum, gradient accumulation gives exactly the
full-batch step; `finish(aux)` turns the accumulated sums into the logged metrics.

Legend: B batch, A micro-batches (grad_accum).
"""

import jax
import jax.numpy as jnp
import optax

from w2v2jax.train.optim import applied_rate


def micro_batches(batch, accum: int):
    """[B, ...] -> [A, B / A, ...]. Row i goes to micro-batch i % A, so every device keeps
    an even share of each one."""

    def split(x):
        return jnp.swapaxes(x.reshape(x.shape[0] // accum, accum, *x.shape[1:]), 0, 1)

    return jax.tree.map(split, batch)


def make_train_step(loss_sums, tx, schedule, *, grad_accum: int = 1, finish=None):
    """state {"params", "opt_state", "step"}, batch, rng -> new state, metrics.

    metrics: "loss" (loss_sum / weight), "grad_norm", "learning_rate" (the rate this update
    applied: the schedule laid over a time budget's plan where opt_state holds one) and
    finish(aux) (default: every aux sum but the weight).
    """
    finish = finish or (lambda aux: {k: v for k, v in aux.items() if k != "weight"})
    grad_fn = jax.value_and_grad(loss_sums, has_aux=True)

    def train_step(state, batch, rng):
        key = jax.random.fold_in(rng, state["step"])
        params = state["params"]
        if grad_accum == 1:
            (loss_sum, aux), grads = grad_fn(params, batch, key, state["step"])
        else:

            def body(carry, mb_i):
                mb, i = mb_i
                (loss, aux), g = grad_fn(params, mb, jax.random.fold_in(key, i), state["step"])
                return jax.tree.map(jnp.add, carry, (loss, aux, g)), None

            mbs = micro_batches(batch, grad_accum)
            first = jax.tree.map(lambda x: x[0], mbs)
            (loss_s, aux_s), grads_s = jax.eval_shape(grad_fn, params, first, key, state["step"])
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), (loss_s, aux_s, grads_s))
            (loss_sum, aux, grads), _ = jax.lax.scan(body, zeros, (mbs, jnp.arange(grad_accum)))
        denom = jnp.maximum(aux["weight"], 1.0)
        grads = jax.tree.map(lambda g: g / denom, grads)
        updates, opt_state = tx.update(grads, state["opt_state"], params)
        new_state = {
            "params": optax.apply_updates(params, updates),
            "opt_state": opt_state,
            "step": state["step"] + 1,
        }
        metrics = {
            "loss": loss_sum / denom,
            "grad_norm": optax.tree.norm(grads),
            "learning_rate": applied_rate(schedule, state["opt_state"], state["step"]),
            **finish(aux),
        }
        return new_state, metrics

    return train_step
