"""The one source of the sample rate and of the samples -> frames arithmetic.

Dependency-free (numpy only), so `data/` (bucketing, label budgets) and `models/` (the
feature encoder) share it without importing each other. Every function takes the conv
stack as `kernels` and `strides` sequences, or anything with `conv_kernel` / `conv_stride`
attributes (a `Wav2Vec2Config`) through `frame_count(n, cfg)` etc.
"""

from collections.abc import Sequence

import numpy as np

SAMPLE_RATE = 16_000
# wav2vec2's feature encoder (transformers' and fairseq's default): 400-sample receptive
# field, 320-sample hop (20 ms frames).
CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)


def _stack(cfg) -> tuple[Sequence[int], Sequence[int]]:
    if cfg is None:
        return CONV_KERNELS, CONV_STRIDES
    return cfg.conv_kernel, cfg.conv_stride


def frame_count(num_samples, cfg=None):
    """Frames the encoder emits for `num_samples`, exactly as transformers computes it.

    Works on python ints, numpy and jax arrays. Like the reference, lengths below the
    receptive field give zero or negative counts; callers clip or reject them.
    """
    n = num_samples
    for k, s in zip(*_stack(cfg), strict=True):
        n = (n - k) // s + 1
    return n


def layer_lengths(num_samples: int, cfg=None) -> list[int]:
    """Length after each conv layer (400 -> 79 -> ... -> 1 for the standard stack)."""
    out, n = [num_samples], num_samples
    for k, s in zip(*_stack(cfg), strict=True):
        n = (n - k) // s + 1
        out.append(n)
    return out


def receptive_field(cfg=None) -> int:
    """Samples seen by one output frame (400 for the standard stack: 25 ms)."""
    field, jump = 1, 1
    for k, s in zip(*_stack(cfg), strict=True):
        field += (k - 1) * jump
        jump *= s
    return field


def hop_length(cfg=None) -> int:
    """Samples between consecutive frames (320 for the standard stack)."""
    return int(np.prod(_stack(cfg)[1]))


def frame_seconds(cfg=None) -> float:
    """Seconds between consecutive frames (0.02 for the standard stack)."""
    return hop_length(cfg) / SAMPLE_RATE


def seconds_to_samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)
