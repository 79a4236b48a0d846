"""Prefix beam search: w2v2jax (jitted, no LM) beside pyctcdecode, one process.

    python -m benchmarks.decode            # 10 s clip (500 frames), V = 32, beams 10 and 50
    python -m benchmarks.decode --quick    # tiny smoke run

Soft posteriors: a random frame path lifted by 2.5 over unit normal noise (mean top
probability ~0.26, ~25 of 32 tokens above log p = -5 per frame). pyctcdecode runs twice:
with its default pruning (token_min_logp=-5, beam_prune_logp=-10), as it is used, and with
pruning off, which is the same search as ours. Times are medians after one warm-up call
(our compile time is printed on its own). Legend: T frames, V vocabulary.
"""

import argparse
import logging
import time

import jax
import numpy as np
from pyctcdecode import build_ctcdecoder

from w2v2jax.ctc import prefix_beam_search, to_lists


def soft_posteriors(frames, vocab, seed=0):
    rng = np.random.default_rng(seed)
    path = rng.integers(0, vocab, frames)
    path[rng.random(frames) < 0.5] = 0
    logits = rng.normal(size=(frames, vocab))
    logits[np.arange(frames), path] += 2.5
    return np.asarray(jax.nn.log_softmax(logits, axis=-1), np.float32)


def median_ms(run, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 frames, beam 4, 1 repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # kenlm is not installed
    frames, vocab_size, beams, repeats = 500, 32, (10, 50), args.repeats
    if args.quick:
        frames, beams, repeats = 40, (4,), 1
    vocab = ["", " "] + [chr(ord("a") + i) for i in range(vocab_size - 2)]
    decoder = build_ctcdecoder(vocab)
    log_probs_TxV = soft_posteriors(frames, vocab_size)
    paddings_1xT = np.zeros((1, frames), np.float32)
    print(
        f"T={frames} frames, V={vocab_size}, mean top p "
        f"{np.exp(log_probs_TxV.max(-1)).mean():.2f}; medians of {repeats}"
    )
    print("beam  ours ms  compile s  pyctcdecode ms (default / no pruning)  ratios  same best")
    for beam in beams:

        def ours(beam=beam):
            return jax.block_until_ready(
                prefix_beam_search(
                    log_probs_TxV[None], paddings_1xT, beam_size=beam, word_delimiter_id=1
                )
            )

        start = time.perf_counter()
        ids, _ = ours()
        compile_s = time.perf_counter() - start
        ours_ms = median_ms(ours, repeats)
        text = " ".join("".join(vocab[i] for i in to_lists(ids)[0][0]).split())
        theirs_ms, same = [], []
        for pruning in ({}, {"token_min_logp": -1e9, "beam_prune_logp": -1e9}):

            def run(pruning=pruning, beam=beam):
                return decoder.decode_beams(log_probs_TxV, beam_width=beam, **pruning)

            theirs_ms.append(median_ms(run, repeats))
            same.append(run()[0][0] == text)
        print(
            f"{beam:4d} {ours_ms:8.1f} {compile_s:10.1f} {theirs_ms[0]:15.1f} / "
            f"{theirs_ms[1]:8.1f}          {theirs_ms[0] / ours_ms:5.1f} / "
            f"{theirs_ms[1] / ours_ms:5.1f}   {same[0]} / {same[1]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
