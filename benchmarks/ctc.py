"""CTC loss + gradient wrt logits: w2v2jax beside optax and torch (CPU), one process.

    python -m benchmarks.ctc            # the four shapes of issue 4, median ms and ratios
    python -m benchmarks.ctc --quick    # tiny smoke run

Contenders run interleaved (round-robin) so load from other processes hits all of them
alike; the table reports medians. Legend: B batch, T frames, V vocabulary, U label length.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from w2v2jax.ctc import ctc_loss

SHAPES = [(8, 500, 32, 100), (16, 1500, 32, 300), (8, 500, 392, 100), (16, 1500, 392, 300)]
QUICK_SHAPES = [(2, 40, 8, 10), (2, 60, 16, 12)]


def make_batch(batch, frames, vocab, num_labels, seed=0):
    """Random logits at full length, random non-blank labels (blank id 0)."""
    rng = np.random.default_rng(seed)
    logits_BxTxV = rng.normal(size=(batch, frames, vocab)).astype(np.float32)
    labels_BxU = rng.integers(1, vocab, size=(batch, num_labels)).astype(np.int32)
    paddings_BxT = np.zeros((batch, frames), np.float32)
    label_paddings_BxU = np.zeros((batch, num_labels), np.float32)
    return logits_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU


def jax_step(loss_fn):
    def total(logits_BxTxV, *rest):
        return jnp.sum(loss_fn(logits_BxTxV, *rest))

    grad_fn = jax.jit(jax.value_and_grad(total))

    def run(args):
        return jax.block_until_ready(grad_fn(*args))

    return run


def torch_step(logits_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU):
    frames_B = torch.tensor((1 - paddings_BxT).sum(1).astype(np.int64))
    lengths_B = torch.tensor((1 - label_paddings_BxU).sum(1).astype(np.int64))
    labels = torch.tensor(labels_BxU.astype(np.int64))

    def run(_):
        logits = torch.tensor(logits_BxTxV, requires_grad=True)
        log_probs_TxBxV = logits.log_softmax(-1).transpose(0, 1)
        loss = torch.nn.functional.ctc_loss(
            log_probs_TxBxV, labels, frames_B, lengths_B, reduction="sum"
        )
        loss.backward()
        return loss.item(), logits.grad

    return run


def time_round_robin(runners, args, repeats):
    times = {name: [] for name in runners}
    for run in runners.values():
        run(args)  # compile / warm up
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run(args)
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def check_agreement(runners, args):
    """Largest relative loss difference per sequence and gradient difference, ours vs optax."""
    ours_B, theirs_B = jax.jit(ctc_loss)(*args), jax.jit(optax.ctc_loss)(*args)
    loss_diff = float(jnp.max(jnp.abs(ours_B - theirs_B) / jnp.abs(theirs_B)))
    _, ours_grad = runners["ours"](args)
    _, theirs_grad = runners["optax"](args)
    return loss_diff, float(jnp.max(jnp.abs(ours_grad - theirs_grad)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 2 repeats")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--torch-threads", type=int, default=1, help="1 is torch's best here")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    shapes, repeats = (QUICK_SHAPES, 2) if args.quick else (SHAPES, args.repeats)
    print(
        f"jax {jax.__version__} ({jax.default_backend()}), optax {optax.__version__}, "
        f"torch {torch.__version__} ({args.torch_threads} thread), {repeats} repeats"
    )
    header = (
        "(B, T, V, U)            ours ms  optax ms  torch ms  optax/ours  torch/ours"
        "  loss diff  grad diff"
    )
    print(header)
    optax_ratios, torch_ratios = [], []
    for shape in shapes:
        batch = make_batch(*shape)
        runners = {
            "ours": jax_step(ctc_loss),
            "optax": jax_step(optax.ctc_loss),
            "torch": torch_step(*batch),
        }
        jax_batch = tuple(jnp.asarray(a) for a in batch)
        loss_diff, grad_diff = check_agreement(runners, jax_batch)
        ms = time_round_robin(runners, jax_batch, repeats)
        optax_ratios.append(ms["optax"] / ms["ours"])
        torch_ratios.append(ms["torch"] / ms["ours"])
        print(
            f"{shape!s:22s} {ms['ours']:8.1f} {ms['optax']:9.1f} {ms['torch']:9.1f} "
            f"{optax_ratios[-1]:11.2f} {torch_ratios[-1]:11.2f} {loss_diff:9.1e} {grad_diff:10.1e}",
            flush=True,
        )
    print(
        f"optax/ours: median {np.median(optax_ratios):.2f}, min {min(optax_ratios):.2f}; "
        f"torch/ours: median {np.median(torch_ratios):.2f}, min {min(torch_ratios):.2f}"
    )


if __name__ == "__main__":
    main()
