"""Audio augmentation for training: speed, pitch, noise, reverberation, telephone, gain.

    aug = Augmenter({"speed_prob": 0.5, "noise_prob": 0.3, "snr_db": (5, 20)}, seed=0)
    out_S = aug(audio_S, np.random.default_rng([seed, step, index]))   # float32 16 kHz

Each augmentation is a pure numpy function of its arguments; an `Augmenter` applies each with
its probability (config `augment.*`, all 0 by default), in the order a recording happens:
speed, pitch, room (reverb), noise, telephone line, recording gain. Every draw comes from the
Generator passed in, and the banks of rooms and noise it draws from are fixed by the
Augmenter's seed, so the result is a pure function of (seed, record) and the pipeline
(pipeline.make_batches) resumes exactly. Runs on the host, in grain's worker threads: soxr,
scipy and numpy do the work in C, 0.3-2 ms per augmentation of a 3 s utterance
(benchmarks/augment_speed.py prints each).

Only speed changes the length: by 1/factor. The caller's `fits(num_samples)` says which
lengths its batch can hold, and the factor is drawn among those that fit (pipeline.py).

Shape legend: S samples.
"""

import math
from collections.abc import Callable, Mapping

import numpy as np
import scipy.signal
import soxr

from w2v2jax.data import noise, rooms
from w2v2jax.errors import ConfigError
from w2v2jax.frames import SAMPLE_RATE

DEFAULTS = {
    "speed_prob": 0.0,
    "speed_factors": (0.9, 1.0, 1.1),  # Kaldi's 3-way speed perturbation
    "pitch_prob": 0.0,
    "pitch_semitones": (-2.0, 2.0),
    "noise_prob": 0.0,
    "snr_db": (5.0, 20.0),
    "noise_dir": "",  # a folder of noise recordings; "" synthesizes noise
    "reverb_prob": 0.0,
    "rt60_s": (0.2, 0.8),
    "num_rooms": 16,  # simulated rooms per process (about 8 s for these RT60s)
    "telephone_prob": 0.0,
    "gain_prob": 0.0,
    "gain_db": (-6.0, 6.0),
}
PROBS = ("speed_prob", "pitch_prob", "noise_prob", "reverb_prob", "telephone_prob", "gain_prob")
RANGES = {  # field: (lowest, highest) allowed
    "pitch_semitones": (-12.0, 12.0),
    "snr_db": (-20.0, 60.0),
    "rt60_s": (0.1, 1.5),  # above 1.5 s a room takes many seconds to simulate
    "gain_db": (-40.0, 40.0),
}
TELEPHONE_RATE, TELEPHONE_BAND = 8000, (300.0, 3400.0)
_TELEPHONE_SOS = scipy.signal.butter(
    4, TELEPHONE_BAND, btype="bandpass", fs=TELEPHONE_RATE, output="sos"
)
_MU = 255.0  # G.711 mu-law
_STRETCH_FRAME, _STRETCH_TOLERANCE = 512, 128  # 32 ms frames, +-8 ms alignment search
_COARSE = 4  # the search first every 4th sample, then the 7 around the best: 10x less work


def fit_length(audio_S: np.ndarray, num: int) -> np.ndarray:
    """Cropped or zero-padded to exactly `num` samples (resamplers round lengths)."""
    if len(audio_S) >= num:
        return audio_S[:num]
    return np.pad(audio_S, (0, num - len(audio_S)))


def speed_length(num: int, factor: float) -> int:
    """Samples `speed(audio_S, factor)` returns for `num` samples in."""
    return max(1, round(num / factor))


def speed(audio_S: np.ndarray, factor: float) -> np.ndarray:
    """Played `factor` times faster (length / factor, pitch x factor), by resampling (soxr)."""
    if factor == 1.0:
        return audio_S
    out = soxr.resample(audio_S, SAMPLE_RATE * factor, SAMPLE_RATE)
    return fit_length(out, speed_length(len(audio_S), factor)).astype(np.float32)


def time_stretch(audio_S: np.ndarray, num: int) -> np.ndarray:
    """The same sound in `num` samples, pitch kept, by WSOLA (Verhelst & Roelands 1993):
    Hann-windowed frames overlap-added at a fixed hop, each read from near its nominal
    position where it best continues the previous frame, so periods join without phase
    jumps. The alignment is searched coarse to fine (_COARSE)."""
    frame, tol, d = _STRETCH_FRAME, _STRETCH_TOLERANCE, _COARSE
    hop = frame // 2
    rate = len(audio_S) / num  # input samples per output sample
    front = tol + math.ceil(hop * rate)  # frame 0 starts a hop before the audio
    back = front + frame + math.ceil(2 * hop * rate)
    x = np.pad(audio_S.astype(np.float64), (front, back))
    window = np.hanning(frame + 1)[:frame]  # periodic Hann: sums to 1 at 50% overlap
    frames = math.ceil(num / hop) + 2
    out = np.zeros(frames * hop + frame)
    prev = front - math.ceil(hop * rate)  # where the previous frame was read in x
    for k in range(frames):
        nominal = front + round((k - 1) * hop * rate)
        if k:
            natural = x[prev + hop : prev + hop + frame]
            coarse = np.correlate(x[nominal - tol : nominal + tol + frame : d], natural[::d])
            best = nominal - tol + d * int(np.argmax(coarse))
            lo, hi = max(best - d + 1, nominal - tol), min(best + d - 1, nominal + tol)
            prev = lo + int(np.argmax(np.correlate(x[lo : hi + frame], natural)))
        else:
            prev = nominal
        out[k * hop : k * hop + frame] += window * x[prev : prev + frame]
    return out[hop : hop + num].astype(np.float32)


def pitch_shift(audio_S: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch moved by `semitones`, duration kept: resampled (pitch and speed x 2**(s/12)),
    then time-stretched back to the original length."""
    if semitones == 0.0:
        return audio_S
    return time_stretch(speed(audio_S, 2.0 ** (semitones / 12.0)), len(audio_S))


def telephone(audio_S: np.ndarray) -> np.ndarray:
    """As over a landline: 8 kHz sampling, G.711 mu-law (8 bit), 300-3400 Hz band-pass
    (zero-phase, so speech keeps its timing), back to 16 kHz."""
    narrow = soxr.resample(audio_S, SAMPLE_RATE, TELEPHONE_RATE)
    narrow = np.clip(narrow, -1.0, 1.0)
    code = np.round(np.sign(narrow) * np.log1p(_MU * np.abs(narrow)) / np.log1p(_MU) * 127)
    narrow = np.sign(code) * np.expm1(np.abs(code) / 127 * np.log1p(_MU)) / _MU
    narrow = scipy.signal.sosfiltfilt(_TELEPHONE_SOS, narrow)
    wide = soxr.resample(narrow.astype(np.float32), TELEPHONE_RATE, SAMPLE_RATE)
    return fit_length(wide, len(audio_S)).astype(np.float32)


def gain(audio_S: np.ndarray, db: float) -> np.ndarray:
    """Level changed by `db`, clipped to [-1, 1] as a recorder saturates. The pipeline
    normalizes every utterance, so a gain matters to the model where it clips (or, as the last
    step, relative to the noise added before it: not at all), and for audio not normalized."""
    return np.clip(audio_S * 10.0 ** (db / 20.0), -1.0, 1.0).astype(np.float32)


def check_config(cfg: Mapping) -> dict:
    """The augment config with defaults filled in; ConfigError naming the first bad field."""
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"augment has no field(s) {unknown}; the fields are {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **dict(cfg)}
    for name in PROBS:
        if not _is_number(cfg[name]) or not 0.0 <= cfg[name] <= 1.0:
            raise ConfigError(f"augment.{name}={cfg[name]!r}: must be a number from 0 to 1")
    factors = cfg["speed_factors"]
    if (
        not isinstance(factors, tuple | list)
        or not factors
        or not all(_is_number(f) and 0.5 <= f <= 2.0 for f in factors)
    ):
        raise ConfigError(
            f"augment.speed_factors={factors!r}: give one or more speeds from 0.5 to 2.0, "
            "e.g. (0.9, 1.0, 1.1)"
        )
    for name, (lowest, highest) in RANGES.items():
        value = cfg[name]
        if (
            not isinstance(value, tuple | list)
            or len(value) != 2
            or not all(_is_number(v) for v in value)
            or not lowest <= value[0] <= value[1] <= highest
        ):
            raise ConfigError(
                f"augment.{name}={value!r}: give (low, high) with {lowest} <= low <= high "
                f"<= {highest}"
            )
    if (
        isinstance(cfg["num_rooms"], bool)
        or not isinstance(cfg["num_rooms"], int)
        or cfg["num_rooms"] < 1
    ):
        raise ConfigError(f"augment.num_rooms={cfg['num_rooms']!r}: must be a whole number >= 1")
    if not isinstance(cfg["noise_dir"], str):
        raise ConfigError(f"augment.noise_dir={cfg['noise_dir']!r}: give a folder path or ''")
    if cfg["noise_dir"]:
        noise.audio_files(cfg["noise_dir"])  # a missing or empty folder: one sentence
    return cfg


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class Augmenter:
    """Applies each augmentation with its probability; a pure function of the Generator.

    config: a mapping (e.g. the run's `c.augment`) of DEFAULTS' fields. seed: the banks of
    simulated rooms and synthesized noise, each built on first use and then shared by the
    threads (`warm()` builds them ahead).
    """

    def __init__(self, config: Mapping | None = None, *, seed: int = 0):
        self.cfg = check_config(config or {})
        self.seed = seed
        self.rooms = rooms.RoomBank(self.cfg["num_rooms"], self.cfg["rt60_s"], seed)
        self.noises = noise.NoiseBank(seed)
        if self.cfg["noise_dir"] and self.cfg["noise_prob"] > 0:
            self.noises = noise.NoiseFolder(self.cfg["noise_dir"])

    def warm(self) -> None:
        """Builds the banks this config draws from now (rooms: seconds), not mid-training."""
        if self.cfg["reverb_prob"] > 0:
            self.rooms.rirs  # noqa: B018  (a property that builds)
        if self.cfg["noise_prob"] > 0 and isinstance(self.noises, noise.NoiseBank):
            self.noises.noises  # noqa: B018

    @property
    def active(self) -> bool:
        """Whether any augmentation can apply (all probabilities 0: the audio is untouched)."""
        return any(self.cfg[name] > 0 for name in PROBS)

    def __call__(
        self,
        audio_S: np.ndarray,
        rng: np.random.Generator,
        fits: Callable[[int], bool] | None = None,
    ) -> np.ndarray:
        """audio_S augmented; only speed changes the length, to one `fits` accepts (any when
        fits is None; speed is skipped when no factor fits)."""
        c, out = self.cfg, np.asarray(audio_S, np.float32)
        # All six coins first: whether one augmentation applies never changes whether another
        # does (their parameters follow from the same Generator).
        coins = rng.random(len(PROBS))
        on = {name: coins[i] < c[name] for i, name in enumerate(PROBS)}
        if on["speed_prob"]:
            n = len(out)
            allowed = [f for f in c["speed_factors"] if fits is None or fits(speed_length(n, f))]
            if allowed:
                out = speed(out, float(allowed[int(rng.integers(len(allowed)))]))
        if on["pitch_prob"]:
            out = pitch_shift(out, float(rng.uniform(*c["pitch_semitones"])))
        if on["reverb_prob"]:
            out = rooms.reverberate(out, self.rooms.draw(rng))
        if on["noise_prob"]:
            snr = float(rng.uniform(*c["snr_db"]))
            out = noise.add_noise(out, self.noises.draw(len(out), rng), snr)
        if on["telephone_prob"]:
            out = telephone(out)
        if on["gain_prob"]:
            out = gain(out, float(rng.uniform(*c["gain_db"])))
        return out
