"""Time per push over a long stream (w2v2jax/streaming.py), and a window stream's gap.

    .venv/bin/python -m benchmarks.stream_cost                 # a 10-minute stream, ~3 min
    .venv/bin/python -m benchmarks.stream_cost --minutes=1     # a short version
    .venv/bin/python -m benchmarks.stream_cost --workdir=RUN --audio=a.wav,b.wav

(1) Cost: the tiny model (layer-norm CNN, random weights: the cost is the same trained or
not) with chunks of --chunk frames, pushed --push_ms of noise at a time for --minutes,
once with --left chunks of left context (bounded caches: the time per pushed second
should stay flat) and once with every earlier chunk (caches that grow: it should not).
Prints the milliseconds of compute per pushed second over --segments equal stretches of
the stream (compilations counted apart: the first pushes and, for the growing cache, one
per doubling), and the load of the machine from `uptime`.

(2) Gap: a full-attention model streams by re-computation over a sliding window, which
is not the offline pass. With --workdir (a trained CTC run) and --audio, prints per file
the offline text, the window stream's text and their character error rate, and the
log-probs' largest difference; without them, the gap of random tiny weights on noise.
Each file is z-normalised once, whole, and both passes get the same samples, so the gap
is the window's alone.
"""

import argparse
import os
import time

import jax
import numpy as np

from w2v2jax.data.tokenizer import CharTokenizer
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.models import Wav2Vec2ForCTC, get_config, init_params
from w2v2jax.streaming import Stream

TOK = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz'"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="length of the stream")
    p.add_argument("--segments", type=int, default=10, help="stretches the table shows")
    p.add_argument("--push_ms", type=float, default=100.0, help="audio per push")
    p.add_argument("--chunk", type=int, default=16, help="attention_chunk_frames")
    p.add_argument("--left", type=int, default=4, help="attention_left_chunks (bounded)")
    p.add_argument("--workdir", default="", help="a trained CTC workdir for the gap")
    p.add_argument("--audio", default="", help="comma-separated audio files for the gap")
    p.add_argument("--window_s", type=float, default=10.0)
    return p.parse_args()


def cost(args, left: int) -> None:
    cfg = get_config(
        "tiny",
        vocab_size=TOK.vocab_size,
        feat_extract_norm="layer",
        attention_chunk_frames=args.chunk,
        attention_left_chunks=left,
    )
    stream = Stream(init_params(cfg, jax.random.PRNGKey(0)), cfg, TOK)
    push = round(args.push_ms * SAMPLE_RATE / 1000)
    pushes = int(args.minutes * 60 * SAMPLE_RATE / push)
    rng = np.random.default_rng(0)
    rows = [{"run": [], "compile": [], "cache": 0} for _ in range(args.segments)]
    for i in range(pushes):
        piece = (0.1 * rng.standard_normal(push)).astype(np.float32)
        size = stream.cache_frames
        t0 = time.perf_counter()
        stream.push(piece)
        dt = time.perf_counter() - t0
        row = rows[i * args.segments // pushes]
        row["compile" if stream.cache_frames != size or i < 5 else "run"].append(dt)
        row["cache"] = stream.cache_frames
    name = f"left={left}" if left >= 0 else "left=all"
    print(f"\n{name}: chunk {args.chunk} frames, pushes of {args.push_ms:.0f} ms")
    print("from (s)  ms per pushed second  (pushes; compile pushes, their s)  cache frames")
    ms = []
    for j, row in enumerate(rows):
        ms.append(1000 * sum(row["run"]) / (len(row["run"]) * push / SAMPLE_RATE))
        print(
            f"{j * pushes * push / args.segments / SAMPLE_RATE:8.0f}  {ms[-1]:20.1f}  "
            f"({len(row['run'])}; {len(row['compile'])}, {sum(row['compile']):.1f})  "
            f"{row['cache']}"
        )
    print(f"last stretch / first stretch: {ms[-1] / ms[0]:.2f}")


def offline(cfg, params, audio):
    logits, _ = jax.jit(Wav2Vec2ForCTC(cfg).apply)(
        {"params": params}, audio[None], np.zeros((1, len(audio)), np.float32)
    )
    return np.asarray(jax.nn.log_softmax(logits, -1)[0])


def gap(args) -> None:
    from w2v2jax.data import audio as audiolib
    from w2v2jax.scoring import cer

    if args.workdir:
        from w2v2jax.inference import Transcriber

        t = Transcriber(args.workdir)
        cfg, params, tok = t.cfg, t.params, t.tok
        files = [(f, audiolib.load_audio(f)) for f in args.audio.split(",") if f]
        files = [(f, audiolib.normalize(a[None], np.zeros((1, len(a)), "f4"))[0]) for f, a in files]
    else:
        cfg = get_config("tiny", vocab_size=TOK.vocab_size)
        params, tok = init_params(cfg, jax.random.PRNGKey(0)), TOK
        rng = np.random.default_rng(1)
        files = [("noise 30 s", (0.1 * rng.standard_normal(30 * SAMPLE_RATE)).astype("f4"))]
    print(f"\nwindow stream (window {args.window_s} s, step 1 s, context 1 s) vs offline:")
    for name, audio in files:
        stream = Stream(params, cfg, tok, window_s=args.window_s)
        for i in range(0, len(audio), 1600):
            stream.push(audio[i : i + 1600])
        text = stream.finish()
        ref_lp = offline(cfg, params, audio)
        ref = tok.decode(ref_lp.argmax(-1), collapse_repeats=True)
        lp = stream.log_probs()
        agree = float(np.mean(lp.argmax(-1) == ref_lp.argmax(-1)))
        print(
            f"{os.path.basename(name)}: max |d log-prob| {np.abs(lp - ref_lp).max():.3g}, ", end=""
        )
        print(
            f"frames whose best label agrees {100 * agree:.1f} %, CER {100 * cer(ref, text):.1f} %"
        )
        print(f"  offline: {ref[:160]!r}\n  stream:  {text[:160]!r}")


def main():
    args = parse_args()
    print(f"load: {os.popen('uptime').read().strip()}; jax {jax.__version__}")
    cost(args, args.left)
    cost(args, -1)
    gap(args)
    print(f"\nload: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
