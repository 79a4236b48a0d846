"""The pure training and evaluation steps (jitted once by loop.py with shardings).

Legend: B batch, A micro-batches (grad_accum), S samples, T frames, V vocab, U labels.
"""

import jax
import jax.numpy as jnp
import optax

from w2v2jax.ctc.decode import greedy_decode
from w2v2jax.ctc.loss import ctc_loss

SAMPLE_RATE = 16000


def _loss_sums(model, params, batch, key, zero_infinity):
    k_drop, k_mask = jax.random.split(key)
    logits_BxTxV, paddings_BxT = model.apply(
        {"params": params},
        batch["audio"],
        batch["audio_paddings"],
        deterministic=False,
        rngs={"dropout": k_drop, "mask": k_mask},
    )
    loss_B = ctc_loss(
        logits_BxTxV,
        paddings_BxT,
        batch["labels"],
        batch["label_paddings"],
        zero_infinity=zero_infinity,
    )
    valid_B = batch["valid"]
    loss_sum = jnp.sum(jnp.where(valid_B > 0, loss_B, 0.0))
    tokens = jnp.sum((1.0 - batch["label_paddings"]) * valid_B[:, None])
    samples = jnp.sum((1.0 - batch["audio_paddings"]) * valid_B[:, None])
    return loss_sum, (tokens, samples)


def _micro_batches(batch, accum: int):
    # Row i goes to micro-batch i % A, so every device keeps an even share of each one.
    def split(x):
        return jnp.swapaxes(x.reshape(x.shape[0] // accum, accum, *x.shape[1:]), 0, 1)

    return jax.tree.map(split, batch)


def make_train_step(model, tx, schedule, *, grad_accum: int = 1, zero_infinity: bool = True):
    """state {"params", "opt_state", "step"}, batch, rng -> new state, metrics.

    The loss is the CTC negative log-likelihood summed over the batch and divided by the
    number of target tokens, so gradient accumulation gives exactly the full-batch step.
    """
    grad_fn = jax.value_and_grad(
        lambda p, b, k: _loss_sums(model, p, b, k, zero_infinity), has_aux=True
    )

    def train_step(state, batch, rng):
        key = jax.random.fold_in(rng, state["step"])
        params = state["params"]
        if grad_accum == 1:
            (loss_sum, (tokens, samples)), grads = grad_fn(params, batch, key)
        else:

            def body(carry, mb_i):
                mb, i = mb_i
                (l, (t, s)), g = grad_fn(params, mb, jax.random.fold_in(key, i))
                acc = jax.tree.map(jnp.add, carry, (l, t, s, g))
                return acc, None

            zeros = (jnp.float32(0),) * 3 + (jax.tree.map(jnp.zeros_like, params),)
            mbs = (_micro_batches(batch, grad_accum), jnp.arange(grad_accum))
            (loss_sum, tokens, samples, grads), _ = jax.lax.scan(body, zeros, mbs)
        denom = jnp.maximum(tokens, 1.0)
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
            "learning_rate": schedule(state["step"]),
            "tokens": tokens,
            "audio_seconds": samples / SAMPLE_RATE,
        }
        return new_state, metrics

    return train_step


def make_eval_step(model, *, zero_infinity: bool = True):
    """params, batch -> per-row loss, greedy ids and what the host needs to score them."""

    def eval_step(params, batch):
        logits_BxTxV, paddings_BxT = model.apply(
            {"params": params}, batch["audio"], batch["audio_paddings"], deterministic=True
        )
        loss_B = ctc_loss(
            logits_BxTxV,
            paddings_BxT,
            batch["labels"],
            batch["label_paddings"],
            zero_infinity=zero_infinity,
        )
        ids_BxT = greedy_decode(logits_BxTxV, paddings_BxT)
        return {
            "loss": loss_B,
            "ids": ids_BxT,
            "labels": batch["labels"],
            "label_paddings": batch["label_paddings"],
            "valid": batch["valid"],
            "index": batch["index"],
            "log_probs": jax.nn.log_softmax(logits_BxTxV, axis=-1),
            "paddings": paddings_BxT,
        }

    return eval_step
