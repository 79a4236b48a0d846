"""The length-extrapolation set: held-out utterances concatenated up to 4x the training length.

Items are drawn from the validation split (held-out texts, training voices), so the only
thing that changes between length bins is the length: not the voices, not the vocabulary.
Utterances are joined with GAP_S of digital silence; the transcript is the texts joined by
spaces. Bins are (0, 3], (3, 6], (6, 9], (9, 12] s for a 3 s training length.
"""

import numpy as np

from w2v2jax.data import load_split
from w2v2jax.frames import SAMPLE_RATE

GAP_S = 0.2


class LongSet(list):
    """A list of examples with the `lengths` the data pipeline plans its batches from."""

    def __init__(self, items, bins):
        super().__init__(items)
        self.lengths = np.asarray([len(x["audio"]) for x in items], np.int64)
        self.bins = bins  # upper edges in seconds

    def groups(self) -> dict[str, list[int]]:
        return {bin_name(hi): [i for i, x in enumerate(self) if x["bin"] == hi] for hi in self.bins}


def bin_name(hi_s: float) -> str:
    return f"le{hi_s:g}s"


def _draw(lengths, target, hi, gap, rng, tries=1000):
    """Indices of random utterances whose concatenation lasts >= target and <= hi samples."""
    parts, total = [], 0
    for _ in range(tries):
        i = int(rng.integers(len(lengths)))
        add = int(lengths[i]) + (gap if parts else 0)
        if total + add > hi:
            continue  # too long to fit: try another, shorter one
        parts.append(i)
        total += add
        if total >= target:
            break
    return parts


def build_long_set(data_dir, train_s: float, factor: int, per_bin: int, seed: int) -> LongSet:
    """`per_bin` items in each of the `factor` bins of width train_s (ordered by bin)."""
    src = load_split(data_dir, "validation")
    rng = np.random.default_rng(seed)
    gap = int(GAP_S * SAMPLE_RATE)
    bins = [train_s * (k + 1) for k in range(factor)]
    items = []
    for lo_s, hi_s in zip([0.0, *bins[:-1]], bins, strict=True):
        lo, hi = int(lo_s * SAMPLE_RATE), int(hi_s * SAMPLE_RATE)
        made = 0
        while made < per_bin:
            # Aim uniformly inside the bin; the draw may stop short (lo) only after 1000 tries.
            target = rng.uniform(max(lo, SAMPLE_RATE // 2), hi)
            parts = _draw(src.lengths, target, hi, gap, rng)
            total = sum(int(src.lengths[i]) for i in parts) + gap * (len(parts) - 1)
            if not parts or total <= lo:
                continue
            items.append(_join([src[i] for i in parts], gap, hi_s, f"{bin_name(hi_s)}-{made}"))
            made += 1
    return LongSet(items, bins)


def _join(examples, gap, hi_s, id_):
    silence = np.zeros(gap, np.int16)
    pieces = []
    for n, ex in enumerate(examples):
        pieces += [silence] if n else []
        pieces.append(np.asarray(ex["audio"], np.int16))
    audio = np.concatenate(pieces)
    return {
        "id": id_,
        "audio": audio,
        "text": " ".join(ex["text"] for ex in examples),
        "parts": len(examples),
        "duration": len(audio) / SAMPLE_RATE,
        "bin": hi_s,
    }


def evaluate_long(assembly, params, long_set: LongSet) -> dict[str, dict]:
    """Greedy CER/WER per length bin with the run's own eval step (`trainer.assembly`), one
    bucket per bin; {bin name: metrics}."""
    boundaries = [int(hi * SAMPLE_RATE) for hi in long_set.bins]
    res = assembly.evaluate(params, long_set, groups=long_set.groups(), boundaries=boundaries)
    out = {}
    for hi in long_set.bins:
        name = bin_name(hi)
        durs = [x["duration"] for x in long_set if x["bin"] == hi]
        out[name] = {
            "bin_s": hi,
            "cer": res[f"{name}/cer"],
            "wer": res[f"{name}/wer"],
            "count": res[f"{name}/count"],
            "mean_duration_s": float(np.mean(durs)),
        }
    return out
