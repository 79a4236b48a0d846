"""Character and word error rates by Levenshtein distance, summed over a corpus."""

import numpy as np


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance between two sequences (strings or lists)."""
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


class ErrorRates:
    """Accumulates edits and reference lengths; cer/wer are totals, not means of ratios."""

    def __init__(self):
        self.char_edits = self.chars = self.word_edits = self.words = self.count = 0

    def add(self, ref: str, hyp: str) -> None:
        self.char_edits += edit_distance(ref, hyp)
        self.chars += len(ref)
        self.word_edits += edit_distance(ref.split(), hyp.split())
        self.words += len(ref.split())
        self.count += 1

    @property
    def cer(self) -> float:
        return self.char_edits / max(self.chars, 1)

    @property
    def wer(self) -> float:
        return self.word_edits / max(self.words, 1)
