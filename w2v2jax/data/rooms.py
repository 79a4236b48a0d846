"""Reverberation by simulated rooms: impulse responses from pyroomacoustics' image-source
ShoeBox, calibrated to the asked RT60, kept in a seeded bank and convolved with speech.

    rir_R = room_impulse_response(0.5, np.random.default_rng(0))   # RT60 0.5 s (+-10%)
    bank = RoomBank(num_rooms=16, rt60_range=(0.2, 0.8), seed=0)    # built on first use
    wet_S = reverberate(dry_S, bank.draw(rng))

A room is far too slow to simulate per utterance (0.03-1.7 s each), so a bank of rooms is
simulated once per process from the seed and utterances draw from it: the bank is the same
in every process and after every resume, so the augmentation stays a pure function of
(seed, record).

Shape legend: S samples, R impulse response taps.
"""

import threading

import numpy as np
import scipy.signal

from w2v2jax.frames import SAMPLE_RATE

# Room sizes (m): offices to small halls; speaker and microphone at least 0.7 m from a wall.
ROOM_MIN, ROOM_MAX, WALL_GAP = (3.0, 3.0, 2.5), (8.0, 6.0, 3.5), 0.7
RT60_DECAY_DB = 30  # measured as T30 (extrapolated to 60 dB), as ISO 3382: the ISM tail is
# too short and noisy below -30 dB for a direct T60
_CALIBRATION_ROUNDS, _CALIBRATION_TOLERANCE = 4, 0.08
_LEAD_SAMPLES = 16  # kept before the direct path, so its peak is not cut


def measure_rt60(rir_R: np.ndarray, fs: int = SAMPLE_RATE) -> float:
    """RT60 (s) of an impulse response by Schroeder's backward integration (T30)."""
    import pyroomacoustics as pra  # 1 s to import: only where rooms are simulated

    return float(pra.experimental.measure_rt60(rir_R, fs=fs, decay_db=RT60_DECAY_DB))


def _simulate(dims, source, mic, rt60: float) -> np.ndarray:
    import pyroomacoustics as pra

    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(
        dims, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=max_order
    )
    room.add_source(source)
    room.add_microphone(mic)
    room.compute_rir()
    return np.asarray(room.rir[0][0], np.float64)


def room_impulse_response(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A random room's impulse response with an RT60 within ~10% of `rt60` seconds.

    Sabine's formula, which pyroomacoustics inverts for the wall absorption, holds for a
    diffuse field; a shoebox's image sources are not diffuse, and measured RT60s come out
    0.7-1.8x the asked. The asked value is therefore corrected by asked/measured and the room
    simulated again (2 rounds typically, at most 4), keeping the closest. Starts at the direct
    path and is scaled to unit energy, so reverberation keeps the timing and level of speech.
    """
    dims = rng.uniform(ROOM_MIN, ROOM_MAX)
    source = rng.uniform(WALL_GAP, dims - WALL_GAP)
    mic = rng.uniform(WALL_GAP, dims - WALL_GAP)
    asked, best, best_error = rt60, None, np.inf
    for _ in range(_CALIBRATION_ROUNDS):
        try:
            rir = _simulate(dims, source, mic, asked)
        except ValueError:  # absorption above 1: the room is too large for so short an RT60
            dims, source, mic = 0.8 * dims, 0.8 * source, 0.8 * mic
            continue
        measured = measure_rt60(rir)
        error = abs(measured / rt60 - 1.0)
        if error < best_error:
            best, best_error = rir, error
        if error < _CALIBRATION_TOLERANCE:
            break
        asked *= rt60 / measured
    start = max(int(np.argmax(np.abs(best))) - _LEAD_SAMPLES, 0)
    rir = best[start:]
    return (rir / np.sqrt(np.sum(rir**2))).astype(np.float32)


def reverberate(audio_S: np.ndarray, rir_R: np.ndarray) -> np.ndarray:
    """Speech as heard in the room of `rir_R`: the same length (the tail past the end is cut,
    as a recording stopped there would), rescaled to the dry audio's RMS."""
    wet = scipy.signal.oaconvolve(audio_S, rir_R)[: len(audio_S)]
    dry_rms, wet_rms = np.sqrt(np.mean(audio_S**2)), np.sqrt(np.mean(wet**2))
    return (wet * (dry_rms / max(wet_rms, 1e-12))).astype(np.float32)


class RoomBank:
    """`num_rooms` impulse responses with RT60s drawn uniformly from `rt60_range`, simulated
    from `seed` on first use (thread-safe: grain's workers share one bank)."""

    def __init__(self, num_rooms: int, rt60_range: tuple[float, float], seed: int):
        self.num_rooms, self.rt60_range, self.seed = int(num_rooms), tuple(rt60_range), seed
        self._rirs: list[np.ndarray] | None = None
        self._lock = threading.Lock()

    @property
    def rirs(self) -> list[np.ndarray]:
        with self._lock:
            if self._rirs is None:
                rng = np.random.default_rng([self.seed, 0x600])
                lo, hi = self.rt60_range
                rt60s = rng.uniform(lo, hi, self.num_rooms)
                self._rirs = [room_impulse_response(float(t), rng) for t in rt60s]
            return self._rirs

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        rirs = self.rirs
        return rirs[int(rng.integers(len(rirs)))]
