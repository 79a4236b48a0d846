"""Throughput of our Wav2Vec2ForCTC against transformers' PyTorch model, same weights.

    .venv/bin/python -m benchmarks.model_throughput            # base, ~4 min on 2 cores
    .venv/bin/python -m benchmarks.model_throughput --quick    # tiny config, 1 rep (smoke)

One process, same audio, same weights (ours copied into transformers by `to_hf`), torch
on as many threads as there are cores, XLA with its defaults. Measures (1) inference
(eval mode / deterministic) and (2) one training step: forward + CTC loss + backward +
AdamW, dropout, layerdrop and time masking on in both. Prints seconds of (unpadded)
audio per second and ours/theirs. `--variants` also times our training step with
scan_layers / remat (all exact: same math, different program).

Legend: B batch, S samples, T frames, V vocab, U label length.
"""

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
import transformers

from benchmarks.race import fmt_reps, race
from w2v2jax.convert import to_hf
from w2v2jax.frames import SAMPLE_RATE, frame_count
from w2v2jax.models import Wav2Vec2ForCTC, get_config, init_params, to_layout

try:  # the faster CTC package, written alongside this benchmark
    from w2v2jax.ctc import ctc_loss as ours_ctc_loss
except ImportError:
    ours_ctc_loss = None

LR, BETAS, EPS, WEIGHT_DECAY = 1e-5, (0.9, 0.999), 1e-8, 0.01
VARIANTS = {  # name -> config changes of our model (all compute the same function)
    "plain": {},
    "scan": {"scan_layers": True},
    "scan+remat": {"scan_layers": True, "remat": "full"},
    "remat_dots": {"remat": "dots_saveable"},
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny config, 1 rep: a smoke test")
    p.add_argument("--reps", type=int, default=None, help="timed repetitions (median)")
    p.add_argument("--ctc", choices=("optax", "ours"), default="optax", help="our CTC loss")
    p.add_argument(
        "--variants",
        default="plain",
        help=f"our training-step variants to time, comma-separated from {sorted(VARIANTS)}",
    )
    p.add_argument("--seconds", type=float, default=4.0, help="length of each utterance")
    p.add_argument("--batch", type=int, default=4)
    args = p.parse_args()
    if args.ctc == "ours" and ours_ctc_loss is None:
        p.error("--ctc=ours: `from w2v2jax.ctc import ctc_loss` does not import here")
    for v in args.variants.split(","):
        if v not in VARIANTS:
            p.error(f"unknown variant {v!r}: choose from {sorted(VARIANTS)}")
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    return args


def make_batch(cfg, batch: int, seconds: float, seed: int = 0):
    """Audio [B, S] (the last utterance a quarter shorter, zero-padded), paddings, and
    random labels [B, U] of length ~50 (never the blank 0), label paddings."""
    rng = np.random.default_rng(seed)
    num_samples = int(seconds * SAMPLE_RATE)
    lengths = [num_samples] * batch
    lengths[-1] = num_samples * 3 // 4
    audio = np.zeros((batch, num_samples), np.float32)
    paddings = np.ones_like(audio)
    for i, n in enumerate(lengths):
        audio[i, :n] = 0.1 * rng.standard_normal(n)
        paddings[i, :n] = 0.0
    label_lengths = [min(50 - 2 * i, frame_count(n, cfg) // 3) for i, n in enumerate(lengths)]
    max_u = max(label_lengths)
    labels = rng.integers(1, cfg.vocab_size, (batch, max_u)).astype(np.int32)
    label_paddings = (np.arange(max_u)[None, :] >= np.array(label_lengths)[:, None]).astype(
        np.float32
    )
    return {
        "audio": audio,
        "audio_paddings": paddings,
        "labels": labels,
        "label_paddings": label_paddings,
        "audio_seconds": sum(lengths) / SAMPLE_RATE,
    }


# ---------------------------------------------------------------- ours (JAX)


def make_ours(cfg, ctc: str):
    model = Wav2Vec2ForCTC(cfg)
    loss_fn = ours_ctc_loss if ctc == "ours" else optax.ctc_loss
    tx = optax.adamw(LR, b1=BETAS[0], b2=BETAS[1], eps=EPS, weight_decay=WEIGHT_DECAY)

    @jax.jit
    def infer(params, audio_BxS, audio_paddings_BxS):
        return model.apply({"params": params}, audio_BxS, audio_paddings_BxS, deterministic=True)

    def loss(params, batch, rng):
        k_drop, k_mask = jax.random.split(rng)
        logits_BxTxV, paddings_BxT = model.apply(
            {"params": params},
            batch["audio"],
            batch["audio_paddings"],
            deterministic=False,
            rngs={"dropout": k_drop, "mask": k_mask},
        )
        loss_B = loss_fn(logits_BxTxV, paddings_BxT, batch["labels"], batch["label_paddings"])
        # transformers' ctc_loss_reduction="mean": divide by label length, then average.
        label_lengths_B = jnp.sum(1.0 - batch["label_paddings"], axis=-1)
        return jnp.mean(loss_B / jnp.maximum(label_lengths_B, 1.0))

    def train_step(params, opt_state, batch, rng, step):
        value, grads = jax.value_and_grad(loss)(params, batch, jax.random.fold_in(rng, step))
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return infer, jax.jit(train_step, donate_argnums=(0, 1)), tx


def ours_infer(cfg, params, batch, info):
    """Compiled inference as a blocking callable; records compile time and logits."""
    infer, _, _ = make_ours(cfg, "optax")
    audio, audio_pads = jnp.asarray(batch["audio"]), jnp.asarray(batch["audio_paddings"])
    t0 = time.perf_counter()
    logits, _ = jax.block_until_ready(infer(params, audio, audio_pads))
    info["compile ours infer"] = time.perf_counter() - t0
    info["logits ours"] = np.asarray(logits)
    return lambda: jax.block_until_ready(infer(params, audio, audio_pads))


def ours_train(cfg, params, batch, ctc, info, name):
    """Compiled training step (fresh copy of params + AdamW state) as a blocking callable."""
    _, step_fn, tx = make_ours(cfg, ctc)
    keys = ("audio", "audio_paddings", "labels", "label_paddings")
    dev_batch = {k: jnp.asarray(batch[k]) for k in keys}
    rng = jax.random.PRNGKey(1)
    state = {"params": jax.tree.map(jnp.copy, to_layout(params, cfg))}  # donated each step
    state["opt"] = tx.init(state["params"])
    state["step"] = 0

    def one_step():
        state["params"], state["opt"], loss = step_fn(
            state["params"], state["opt"], dev_batch, rng, state["step"]
        )
        state["step"] += 1
        return float(loss)  # fetching the loss waits for the whole step

    t0 = time.perf_counter()
    info[f"loss {name}"] = one_step()
    info[f"compile {name}"] = time.perf_counter() - t0
    return one_step


# ---------------------------------------------------------------- theirs (PyTorch)


def make_theirs(cfg, params):
    with tempfile.TemporaryDirectory() as d:
        to_hf(cfg, params, d)
        return transformers.Wav2Vec2ForCTC.from_pretrained(d)


def theirs_fns(model, batch, info):
    """(inference, training step) of the transformers model as blocking callables."""
    audio = torch.from_numpy(batch["audio"])
    mask = torch.from_numpy(1 - batch["audio_paddings"]).long()
    labels = torch.from_numpy(batch["labels"]).long()
    labels[torch.from_numpy(batch["label_paddings"]) > 0] = -100  # transformers' padding
    opt = torch.optim.AdamW(
        model.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY
    )
    torch.manual_seed(1)

    def infer():
        model.eval()
        with torch.inference_mode():
            return model(audio, attention_mask=mask).logits

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = model(audio, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        return loss.item()

    info["logits theirs"] = infer().numpy()
    info["loss theirs"] = train_step()  # warm-up: allocator, optimizer state
    return infer, train_step


# ---------------------------------------------------------------- report


def max_valid_diff(a_BxTxV, b_BxTxV, audio_paddings_BxS, cfg):
    diff = 0.0
    for i, pads in enumerate(audio_paddings_BxS):
        n = frame_count(int((1 - pads).sum()), cfg)
        diff = max(diff, float(np.abs(a_BxTxV[i, :n] - b_BxTxV[i, :n]).max()))
    return diff


def main():
    args = parse_args()
    cores = len(os.sched_getaffinity(0))
    torch.set_num_threads(cores)
    size = "tiny" if args.quick else "base"
    cfg = get_config(size, vocab_size=32)
    batch = make_batch(cfg, args.batch, args.seconds)
    variants = args.variants.split(",")
    if "plain" not in variants:
        variants.insert(0, "plain")

    print(
        f"date {datetime.date.today()}  machine {platform.machine()} {cores} cores"
        f"  load average at start {os.getloadavg()}"
    )
    print(
        f"jax {jax.__version__} {jax.devices()}  XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
        f"  | torch {torch.__version__} threads={torch.get_num_threads()}"
        f" interop={torch.get_num_interop_threads()}  transformers {transformers.__version__}"
    )
    u = (1 - batch["label_paddings"]).sum(-1).astype(int).tolist()
    print(
        f"config {size}, batch {args.batch} x {args.seconds:g} s (last one {args.seconds * 0.75:g}"
        f" s + padding) = {batch['audio_seconds']:g} s of audio, labels {u}, V={cfg.vocab_size},"
        f" ctc={args.ctc}, reps={args.reps} (median)"
    )

    params = init_params(cfg, jax.random.PRNGKey(0), num_samples=batch["audio"].shape[1])
    theirs_model = make_theirs(cfg, params)
    print(f"transformers attention: {theirs_model.config._attn_implementation}")

    info = {}
    their_infer, their_train = theirs_fns(theirs_model, batch, info)
    times = race({"ours": ours_infer(cfg, params, batch, info), "theirs": their_infer}, args.reps)
    rows = [("inference", times["ours"], times["theirs"])]
    train = {
        v: ours_train(cfg.replace(**VARIANTS[v]), params, batch, args.ctc, info, v)
        for v in variants
    }
    times = race({**train, "theirs": their_train}, args.reps)
    rows += [(f"train step ({v})", times[v], times["theirs"]) for v in variants]
    diff = max_valid_diff(info["logits ours"], info["logits theirs"], batch["audio_paddings"], cfg)

    secs = batch["audio_seconds"]
    print()
    print(
        f"| {'task':<23} | ours s | theirs s | ours audio-s/s | theirs audio-s/s |"
        " ours/theirs | on CPU time |"
    )
    print(
        f"|{'-' * 25}|-------:|---------:|---------------:|-----------------:|"
        + "------------:|" * 2
    )
    for name, (o_walls, o_cpu), (t_walls, t_cpu) in rows:
        o, t = statistics.median(o_walls), statistics.median(t_walls)
        print(
            f"| {name:<23} | {o:6.2f} | {t:8.2f} | {secs / o:14.2f} | {secs / t:16.2f} |"
            f" {t / o:10.2f}x | {t_cpu / o_cpu:10.2f}x |"
        )
    print()
    print("wall s of each rep (ours | theirs):")
    for name, (o_walls, _), (t_walls, _) in rows:
        print(f"  {name:<23} {fmt_reps(o_walls)} | {fmt_reps(t_walls)}")
    compiles = ", ".join(f"{v} {info[f'compile {v}']:.1f}" for v in variants)
    print(f"our compile (first call) s: infer {info['compile ours infer']:.1f}; train {compiles}")
    losses = ", ".join(f"{v} {info[f'loss {v}']:.3f}" for v in variants)
    print(f"first train loss: ours {losses}; theirs {info['loss theirs']:.3f}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(f"inference logits max |ours - theirs| on valid frames: {diff:.2e}")


if __name__ == "__main__":
    # Both frameworks share the process, so both run under the allocator the CLI uses.
    from w2v2jax import allocator

    allocator.reexec_with_tcmalloc()
    main()
