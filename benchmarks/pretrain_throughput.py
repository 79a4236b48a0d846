"""Throughput of our pretraining step against transformers' PyTorch Wav2Vec2ForPreTraining.

    .venv/bin/python -m benchmarks.pretrain_throughput           # base, 4 x 4 s, 3 reps
    .venv/bin/python -m benchmarks.pretrain_throughput --quick   # micro, 2 x 1 s (smoke)

Ours is the run's real training step: `assemble(c, objectives.build(c))` on one device,
`a.train_step` on a global batch under `a.context()` (masks, negatives, Gumbel noise drawn on
device; fairseq's loss; the config's AdamW). Theirs follows transformers'
run_wav2vec2_pretraining_no_trainer.py: the collator's `_compute_mask_indices` and
`_sample_negative_indices` on the host each step (num_workers=0: in the step's time), the
model in train mode, loss.backward(), gradients divided by the masked count, the gradient
norm, torch AdamW, the Gumbel temperature set for the next step. Same config (`to_hf`), same
weights (ours copied in), same audio (full rows, no padding: the base recipe's feature
extractor passes no attention mask), torch on as many threads as XLA uses. Prints seconds of
audio per second and ours/theirs (their time / ours).

Legend: B batch, S samples, T frames, K negatives.
"""

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

import jax
import numpy as np
import torch
import transformers
from transformers.models.wav2vec2.modeling_wav2vec2 import (
    _compute_mask_indices,
    _sample_negative_indices,
)

from benchmarks.race import fmt_reps, race
from w2v2jax.configs.pretrain import get_config
from w2v2jax.convert import to_hf
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.train import objectives, sharding
from w2v2jax.train.assembly import assemble


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="micro config, tiny batch: a smoke test")
    p.add_argument("--size", default=None, help="configs/pretrain.py size (default base)")
    p.add_argument("--batch", type=int, default=None, help="utterances per step (default 4)")
    p.add_argument("--seconds", type=float, default=None, help="utterance length (default 4)")
    p.add_argument("--reps", type=int, default=None, help="timed steps of each (default 3)")
    p.add_argument(
        "--layerdrop",
        type=float,
        default=None,
        help="override the config's layerdrop on both sides (0 = same work every step)",
    )
    args = p.parse_args()
    quick = {"size": "micro", "batch": 2, "seconds": 1.0, "reps": 2}
    full = {"size": "base", "batch": 4, "seconds": 4.0, "reps": 3}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


def make_audio(batch: int, seconds: float, seed: int = 0):
    """[B, S] float32 white noise, each row normalised to zero mean and unit variance (what
    Wav2Vec2FeatureExtractor(do_normalize=True) feeds both models)."""
    x = np.random.default_rng(seed).standard_normal((batch, int(seconds * SAMPLE_RATE)))
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-7)
    return x.astype(np.float32)


def temperature(c, step: int) -> float:
    start, floor, decay = c.gumbel_temperature
    return max(start * decay**step, floor)


# ---------------------------------------------------------------- ours (JAX)


def ours_step(a, audio_BxS):
    """The run's compiled training step as a blocking callable (state donated each call)."""
    b = audio_BxS.shape[0]
    local = {
        "audio": audio_BxS,
        "audio_paddings": np.zeros_like(audio_BxS),
        "valid": np.ones(b, np.float32),
        "index": np.arange(b, dtype=np.int32),
    }
    batch = sharding.global_batch(local, a.mesh)
    rng = jax.random.PRNGKey(1)
    state = {"s": a.init_state(jax.random.PRNGKey(0))}

    def one_step():
        with a.context():
            state["s"], metrics = a.train_step(state["s"], batch, rng)
        return jax.device_get(metrics)  # fetching the metrics waits for the whole step

    return state, one_step


# ---------------------------------------------------------------- theirs (PyTorch)


def make_theirs(a, params):
    transformers.utils.logging.disable_progress_bar()  # no loading bar in the report
    with tempfile.TemporaryDirectory() as d:
        to_hf(a.cfg, params, d)
        return transformers.Wav2Vec2ForPreTraining.from_pretrained(d)


def theirs_step(model, c, audio_BxS, info):
    """One step of transformers' pretraining example as a blocking callable."""
    cfg = model.config
    audio = torch.from_numpy(audio_BxS)
    b, t = audio.shape[0], int(model._get_feat_extract_output_lengths(audio.shape[1]))
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=c.learning_rate,
        betas=(c.b1, c.b2),
        eps=c.adam_eps,
        weight_decay=c.weight_decay,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    max_norm = c.grad_clip if c.grad_clip > 0 else float("inf")  # inf: the norm, no clip
    torch.manual_seed(1)
    np.random.seed(1)  # the reference samplers draw from numpy's global state
    model.train()
    state = {"step": 0, "draws": []}

    def one_step():
        t0 = time.perf_counter()
        mask_BxT = _compute_mask_indices(
            (b, t), cfg.mask_time_prob, cfg.mask_time_length, min_masks=cfg.mask_time_min_masks
        )
        neg_BxTxK = _sample_negative_indices((b, t), cfg.num_negatives, mask_BxT)
        state["draws"].append(time.perf_counter() - t0)
        mask = torch.from_numpy(mask_BxT)
        out = model(
            audio,
            mask_time_indices=mask,
            sampled_negative_indices=torch.from_numpy(neg_BxTxK).long(),
        )
        out.loss.backward()
        n = mask.sum()
        for p in params:  # the example's multiply_grads(params, 1 / num_losses)
            if p.grad is not None:
                p.grad.data.div_(n)
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        state["step"] += 1
        model.set_gumbel_temperature(temperature(c, state["step"]))
        return (out.contrastive_loss / n).item()

    model.set_gumbel_temperature(temperature(c, 0))
    info["contrastive theirs"] = one_step()  # warm-up: allocator, optimizer state
    return state, one_step


# ---------------------------------------------------------------- report


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def main():
    args = parse_args()
    cores = len(os.sched_getaffinity(0))
    torch.set_num_threads(cores)  # XLA's CPU client uses one thread per core
    c = get_config(args.size)
    c.batch_size = args.batch
    if args.layerdrop is not None:
        c.model.layerdrop = args.layerdrop
    a = assemble(c, objectives.build(c), devices=jax.devices()[:1])
    audio = make_audio(args.batch, args.seconds)
    secs = audio.size / SAMPLE_RATE

    print(
        f"date {datetime.date.today()}  machine {platform.machine()} {cores} cores"
        f"  load average at start {os.getloadavg()}"
    )
    print(
        f"jax {jax.__version__} {jax.devices()[:1]}  XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
        f"  | torch {torch.__version__} threads={torch.get_num_threads()}"
        f" interop={torch.get_num_interop_threads()}  transformers {transformers.__version__}"
    )
    m = a.cfg
    print(
        f"config pretrain.py:{args.size}, batch {args.batch} x {args.seconds:g} s = {secs:g} s"
        f" of audio, G x V = {m.num_codevector_groups} x {m.num_codevectors_per_group},"
        f" K={m.num_negatives}, mask {m.mask_time_prob} x {m.mask_time_length},"
        f" layerdrop {m.layerdrop}, reps={args.reps} (median)"
    )

    info = {}
    ours_state, ours = ours_step(a, audio)
    theirs_model = make_theirs(a, ours_state["s"]["params"])  # before our step donates them
    n_ours = count(ours_state["s"]["params"])
    n_theirs = sum(p.numel() for p in theirs_model.parameters())
    print(
        f"parameters: ours {n_ours:,}, theirs {n_theirs:,};"
        f" transformers attention: {theirs_model.config._attn_implementation}"
    )
    t0 = time.perf_counter()
    first = ours()
    info["compile"] = time.perf_counter() - t0
    info["contrastive ours"] = float(first["contrastive_loss"])
    theirs_state, theirs = theirs_step(theirs_model, c, audio, info)

    times = race({"ours": ours, "theirs": theirs}, args.reps)
    (o_walls, o_cpu), (t_walls, t_cpu) = times["ours"], times["theirs"]
    o, t = statistics.median(o_walls), statistics.median(t_walls)
    print()
    print(
        f"| {'task':<19} | ours s | theirs s | ours audio-s/s | theirs audio-s/s |"
        " ours/theirs | on CPU time |"
    )
    print(
        f"|{'-' * 21}|-------:|---------:|---------------:|-----------------:|"
        + "------------:|" * 2
    )
    print(
        f"| {'pretraining step':<19} | {o:6.3f} | {t:8.3f} | {secs / o:14.2f} |"
        f" {secs / t:16.2f} | {t / o:10.2f}x | {t_cpu / o_cpu:10.2f}x |"
    )
    print()
    print(f"wall s of each rep (ours | theirs): {fmt_reps(o_walls)} | {fmt_reps(t_walls)}")
    # Their step includes the collator's numpy draws; ours draws on device inside the step.
    draws = statistics.median(theirs_state["draws"][1:])
    print(f"  theirs' host mask + negative sampling (in their step): {draws:.3f} s median")
    print(f"our compile (first call) s: {info['compile']:.1f}")
    print(
        "first contrastive loss per masked frame:"
        f" ours {info['contrastive ours']:.3f}; theirs {info['contrastive theirs']:.3f}"
    )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    # Both frameworks share the process, so both run under the allocator the CLI uses.
    from w2v2jax import allocator

    allocator.reexec_with_tcmalloc()
    main()
