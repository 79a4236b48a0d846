"""align_long: forced_align's result, in memory that does not grow with T x U.

Legend: T frames, V vocabulary, U label length.

Run as a script to measure one aligner on a random lattice in a fresh process:
    python tests/ctc_align_long_test.py T U long|forced
prints its time and peak RSS (a 60-minute file: T = 180000, U = 54000).
"""

import resource
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import xla_env

from w2v2jax.ctc import align_long, forced_align


def random_lattice(frames, num_labels, vocab=32, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    log_probs = jax.nn.log_softmax(scale * rng.normal(size=(frames, vocab)).astype(np.float32))
    return np.asarray(log_probs), rng.integers(1, vocab, num_labels).astype(np.int32)


def assert_same(long, reference, rtol=1e-6):
    """Paths and spans exactly; the score to float32 rounding (log_softmax over segments of
    another shape may round its last bit differently)."""
    for name in ("path_BxT", "label_index_BxT", "starts_BxU", "ends_BxU"):
        np.testing.assert_array_equal(getattr(long, name), np.asarray(getattr(reference, name)))
    np.testing.assert_allclose(long.scores_B, np.asarray(reference.scores_B), rtol=rtol)


@pytest.mark.parametrize(
    "frames, num_labels, vocab, segment",
    [
        (9000, 2000, 32, None),  # three minutes of 20 ms frames, a dense transcript
        (3001, 1400, 5, 64),  # V = 5: many repeats; T not a multiple of the segment
        (700, 340, 3, 100),  # nearly as many labels as frames allow
        (300, 0, 6, 64),  # an empty transcript: every frame blank
        (1, 1, 4, 64),  # one frame, one label
    ],
)
def test_equals_forced_align(frames, num_labels, vocab, segment):
    log_probs, labels = random_lattice(frames, num_labels, vocab, seed=frames)
    reference = forced_align(
        log_probs[None], np.zeros((1, frames)), labels[None], np.zeros((1, num_labels))
    )
    assert np.isfinite(reference.scores_B[0])
    assert_same(align_long(log_probs, labels, segment_frames=segment), reference)


def test_logits_and_infeasible_transcripts_as_forced_align():
    rng = np.random.default_rng(1)
    logits = 3 * rng.normal(size=(500, 7)).astype(np.float32)  # not normalised
    labels = rng.integers(1, 7, 120).astype(np.int32)
    reference = forced_align(logits[None], np.zeros((1, 500)), labels[None], np.zeros((1, 120)))
    assert_same(align_long(logits, labels, segment_frames=128), reference)
    repeats = np.array([1, 1, 1, 2], np.int32)  # needs 6 frames
    infeasible = align_long(np.zeros((5, 4), np.float32), repeats)
    assert infeasible.scores_B[0] == -np.inf
    assert np.all(infeasible.path_BxT == -1) and np.all(infeasible.starts_BxU == -1)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[T, V\]"):
        align_long(np.zeros((1, 4, 3)), [1])
    with pytest.raises(ValueError, match="blank id 0"):
        align_long(np.zeros((4, 3)), [1, 0])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        align_long(np.zeros((4, 3)), [5])


def peak_rss_mib():
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss across fork + exec, so a child started by a big pytest process would report
    its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(frames, num_labels, which):
    """(seconds, MiB the alignment added to the peak RSS, peak MiB) of one aligner."""
    log_probs, labels = random_lattice(frames, num_labels)
    before = peak_rss_mib()
    start = time.perf_counter()
    if which == "long":
        result = align_long(log_probs, labels)
    else:
        pads = np.zeros((1, frames)), np.zeros((1, num_labels))
        result = forced_align(log_probs[None], pads[0], labels[None], pads[1])
    score = jax.block_until_ready(result).scores_B[0]
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    assert np.isfinite(float(score))
    return seconds, peak - before, peak


def measure_in_subprocess(frames, num_labels, which):
    out = subprocess.run(
        [sys.executable, __file__, str(frames), str(num_labels), which],
        capture_output=True,
        text=True,
        check=True,
        env=xla_env.env(JAX_PLATFORMS="cpu"),
    )
    return [float(x) for x in out.stdout.split()[-3:]]


def test_memory_does_not_grow_with_frames_times_labels():
    """T = 20000 frames (6.7 minutes), U = 6000: forced_align keeps T x U choices and
    emissions (~1.2 GB measured); align_long keeps sqrt(T)-spaced rows (~2 MB) and one
    segment's choices (~2 MB), so its peak barely moves."""
    _, added_long, _ = measure_in_subprocess(20000, 6000, "long")
    _, added_forced, _ = measure_in_subprocess(20000, 6000, "forced")
    assert added_forced > 900, added_forced  # today's aligner needs T x U memory ...
    assert added_long < 300, added_long  # ... this one does not


if __name__ == "__main__":
    T, U, WHICH = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    SECONDS, ADDED, PEAK = measure(T, U, WHICH)
    print(f"{WHICH} T={T} U={U}: {SECONDS:.1f} s, peak RSS {PEAK:.0f} MiB (+{ADDED:.0f} MiB)")
    print(SECONDS, ADDED, PEAK)
