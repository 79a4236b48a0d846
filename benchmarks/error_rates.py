"""Scoring a corpus: w2v2jax.scoring beside jiwer, the python loop it replaced, and panphon.

    python -m benchmarks.error_rates             # 10,000 pairs, 3 reps (issue 17: in 1 s)
    python -m benchmarks.error_rates --quick     # 500 pairs, 1 rep: a smoke run

Pairs are synthetic-corpus-like: references are the `words` task's sentences (3-8 common
English words), hypotheses the same with a few random character edits; phoneme pairs are
3-8 words of 1-5 espeak-ng en-us units with a few random unit edits. Each contender scores
the whole corpus per rep, interleaved rep by rep (benchmarks/race.py); the table gives the
median wall seconds, median CPU seconds and how many times faster ours is (theirs / ours);
ours on IPA computes all four rates, as a phoneme run's eval does. panphon's own FER (a
python O(n m) loop over feature vectors) runs on the first --panphon_pairs pairs only and
is scaled to the corpus; jiwer has no PER or FER.
"""

import argparse
import statistics

import jiwer
import numpy as np
from panphon.distance import Distance

from benchmarks.race import race
from w2v2jax import scoring
from w2v2jax.data import ipa, texts

UNITS = "p b t d k ɡ f v θ ð s z ʃ ʒ h m n ŋ l ɹ w j tʃ dʒ ɾ i iː ɪ ɛ æ ɑː ɔː ʊ uː ʌ ə ɚ ɜː aɪ oʊ"


def edit_distance(ref, hyp) -> int:
    """The replaced w2v2jax.train.error_rates.edit_distance, verbatim: the baseline."""
    if not ref:
        return len(hyp)
    prev = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return int(prev[-1])


def python_loop(refs, hyps) -> tuple[float, float]:
    chars = sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True))
    words = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True))
    return chars / sum(map(len, refs)), words / sum(len(r.split()) for r in refs)


def _edit(rng, seq: list, alphabet: list, edits: int) -> list:
    seq = list(seq)
    for _ in range(edits):
        i, op = int(rng.integers(0, len(seq) + 1)), int(rng.integers(0, 3))
        symbol = alphabet[int(rng.integers(0, len(alphabet)))]
        if op == 0 and i < len(seq):
            seq[i] = symbol
        elif op == 1 and i < len(seq):
            del seq[i]
        else:
            seq.insert(i, symbol)
    return seq


def char_pairs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    refs = [texts.words_text(rng) for _ in range(n)]
    letters = list("abcdefghijklmnopqrstuvwxyz ")
    hyps = [
        " ".join("".join(_edit(rng, list(r), letters, int(rng.integers(0, 6)))).split()) or "a"
        for r in refs
    ]
    return refs, hyps


def phoneme_pairs(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    units = UNITS.split()

    def sentence():
        return [list(rng.choice(units, rng.integers(1, 6))) for _ in range(rng.integers(3, 9))]

    refs, hyps = [], []
    for _ in range(n):
        words = sentence()
        refs.append(" ".join("".join(w) for w in words))
        edited = [_edit(rng, w, units, int(rng.random() < 0.3)) for w in words]
        hyps.append(" ".join("".join(w) for w in edited if w) or "ə")
    return refs, hyps


def _ours_chars(refs, hyps):
    rates = scoring.ErrorRates()
    for r, h in zip(refs, hyps, strict=True):
        rates.add(r, h)
    return rates.cer, rates.wer


def _ours_phonemes(refs, hyps):
    rates = scoring.ErrorRates(phonemes=True)
    for r, h in zip(refs, hyps, strict=True):
        rates.add(r, h)
    return rates.per, rates.fer


def _panphon_fer(panphon, refs, hyps):
    spelled = [scoring.panphon_spelling(ipa.phonemes(t)) for t in (*refs, *hyps)]
    return lambda: panphon.feature_error_rate(spelled[len(refs) :], spelled[: len(refs)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 pairs, 1 rep")
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--panphon_pairs", type=int, default=200)
    args = parser.parse_args()
    n, reps, n_panphon = args.pairs, args.reps, args.panphon_pairs
    if args.quick:
        n, reps, n_panphon = 500, 1, 50
    refs, hyps = char_pairs(n)
    ipa_refs, ipa_hyps = phoneme_pairs(n)
    panphon = Distance()
    # Warm-up: panphon's table (~1 s of CSV reading) and the segment cache load once per
    # process, not per corpus.
    _ours_phonemes(ipa_refs[:50], ipa_hyps[:50])
    checks = {
        "cer, wer": (_ours_chars(refs, hyps), (jiwer.cer(refs, hyps), jiwer.wer(refs, hyps))),
        "fer": (
            (scoring.fer(ipa_refs[:n_panphon], ipa_hyps[:n_panphon]),),
            (_panphon_fer(panphon, ipa_refs[:n_panphon], ipa_hyps[:n_panphon])(),),
        ),
    }
    for name, (ours, theirs) in checks.items():
        assert np.allclose(ours, theirs, rtol=1e-9), (name, ours, theirs)
    timed = race(
        {
            "ours CER+WER": lambda: _ours_chars(refs, hyps),
            "jiwer CER+WER": lambda: (jiwer.cer(refs, hyps), jiwer.wer(refs, hyps)),
            "python loop CER+WER": lambda: python_loop(refs, hyps),
            "ours CER+WER+PER+FER (IPA)": lambda: _ours_phonemes(ipa_refs, ipa_hyps),
            "panphon FER": _panphon_fer(panphon, ipa_refs[:n_panphon], ipa_hyps[:n_panphon]),
        },
        reps,
    )
    scale = {"panphon FER": n / n_panphon}
    wall = {k: statistics.median(w) * scale.get(k, 1) for k, (w, _) in timed.items()}
    cpu = {k: c * scale.get(k, 1) for k, (_, c) in timed.items()}
    print(f"{n} pairs, median of {reps} rep(s); same values as jiwer and panphon (checked)")
    print(f"{'contender':30s} {'wall s':>8s} {'cpu s':>8s}  ours faster (wall)")
    ours_of = {"jiwer CER+WER": "ours CER+WER", "python loop CER+WER": "ours CER+WER"}
    ours_of["panphon FER"] = "ours CER+WER+PER+FER (IPA)"
    for k in timed:
        note = f" (scaled from {n_panphon} pairs)" if k in scale else ""
        ratio = f"{wall[k] / wall[ours_of[k]]:8.1f}x" if k in ours_of else "        -"
        print(f"{k:30s} {wall[k]:8.3f} {cpu[k]:8.3f}  {ratio}{note}", flush=True)


if __name__ == "__main__":
    main()
