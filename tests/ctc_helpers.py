"""Posteriors, vocabularies and an ARPA file shared by the CTC decoding tests.

Legend: B batch, T frames, V vocabulary.
"""

import jax
import numpy as np

VOCAB = ["", " ", "a", "b", "c", "d", "e", "f"]  # blank 0, word delimiter 1


def log_softmax(x):
    return np.asarray(jax.nn.log_softmax(np.asarray(x, np.float64), axis=-1))


def posteriors(rng, frames, peak):
    """Model-like log-probs: a random path lifted by `peak` over unit normal noise."""
    path = rng.integers(0, len(VOCAB), frames)
    path[rng.random(frames) < 0.4] = 0
    logits = rng.normal(size=(frames, len(VOCAB)))
    logits[np.arange(frames), path] += peak
    return log_softmax(logits)


def text(ids):
    return " ".join("".join(VOCAB[i] for i in ids).split())


def collapse(path, blank=0):
    return [int(p) for i, p in enumerate(path) if p != blank and (i == 0 or p != path[i - 1])]


# One batch holds every case so the search compiles once: rows 0-3 peaked, 4-9 soft.
PEAKS = [4.0] * 4 + [2.0, 2.0, 1.0, 1.0, 0.0, 0.0]


def comparison_batch(frames=30):
    rng = np.random.default_rng(0)
    return np.stack([posteriors(rng, frames, peak) for peak in PEAKS])


ARPA = """
\\data\\
ngram 1=5
ngram 2=2

\\1-grams:
-1.0\t<s>\t-0.3
-1.0\t</s>
-0.5\tthe\t-0.2
-0.7\tcat\t-0.1
-2.0\t<unk>

\\2-grams:
-0.1\t<s> the
-0.2\tthe cat

\\end\\
"""
