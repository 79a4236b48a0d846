"""Additive noise at a chosen SNR: synthesized (coloured noise, babble-like) or read from a
folder of the user's noise recordings.

    noisy_S = add_noise(speech_S, synthesized("pink", len(speech_S), rng), snr_db=10.0)
    bank = NoiseBank(seed=0)                       # 30 s of each kind, segments drawn from it
    folder = NoiseFolder("noise/")                 # every audio file under it, read on demand
    noisy_S = add_noise(speech_S, folder.draw(len(speech_S), rng), snr_db=5.0)

Shape legend: S samples, F frequency bins.
"""

import collections
import os
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from w2v2jax.data import audio
from w2v2jax.errors import ConfigError
from w2v2jax.frames import SAMPLE_RATE

KINDS = ("white", "pink", "brown", "babble")
_SLOPES = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power falls as 1/f**slope
_BABBLE_TALKERS = 6
_ENVELOPE_RATE = 100  # Hz: syllable-rate envelopes (~4 Hz) drawn at this rate, interpolated
_CACHED_FILES = 64  # noise files kept decoded per process
_BANK_SECONDS = 30


def add_noise(audio_S: np.ndarray, noise_S: np.ndarray, snr_db: float) -> np.ndarray:
    """audio + noise scaled so that 10 log10(P_audio / P_noise) = snr_db over the utterance
    (silence included, as SNR is usually quoted for corpora); silent audio is returned as is."""
    p_audio = float(np.mean(np.square(audio_S, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise_S, dtype=np.float64)))
    if p_audio == 0.0 or p_noise == 0.0:
        return audio_S
    scale = np.sqrt(p_audio / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (audio_S + scale * noise_S).astype(np.float32)


def _shaped(num: int, gain_of, rng: np.random.Generator, rate: int = SAMPLE_RATE):
    """Gaussian noise whose amplitude spectrum is gain_of(frequency in Hz), unit RMS."""
    spectrum_F = np.fft.rfft(rng.standard_normal(num))
    freqs_F = np.fft.rfftfreq(num, 1.0 / rate)
    out = np.fft.irfft(spectrum_F * gain_of(freqs_F), n=num)
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-12)


def _coloured(num: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    # 20 Hz floor: 1/f would put unbounded power at DC
    return _shaped(num, lambda f: np.maximum(f, 20.0) ** (-slope / 2.0), rng)


def _speech_shaped(f_F: np.ndarray) -> np.ndarray:
    """About the long-term average spectrum of speech: up to 500 Hz, then -12 dB/octave
    above 1 kHz, with nothing below 80 Hz."""
    return (f_F > 80.0) / (1.0 + (f_F / 500.0) ** 2)


def _babble(num: int, rng: np.random.Generator) -> np.ndarray:
    """Several talkers' worth of speech-shaped noise, each switched on and off at a syllable
    rate (~4 Hz), so the level fluctuates as a crowd's does.

    A sum of independent Gaussian noises with envelopes e_k is one Gaussian noise with the
    envelope sqrt(sum e_k**2), and the envelopes are slow beside the spectral shape, so
    shaping once after modulating matches shaping each talker: one FFT, not one per talker.
    """
    env_len = num * _ENVELOPE_RATE // SAMPLE_RATE + 2
    power = np.zeros(env_len)
    for _ in range(_BABBLE_TALKERS):
        envelope = _shaped(env_len, lambda f: f < 4.0, rng, rate=_ENVELOPE_RATE)
        power += np.maximum(envelope, 0.0) ** 2  # half-wave: pauses between syllables
    at_S = np.arange(num) * (_ENVELOPE_RATE / SAMPLE_RATE)
    modulated = rng.standard_normal(num) * np.sqrt(np.interp(at_S, np.arange(env_len), power))
    spectrum_F = np.fft.rfft(modulated) * _speech_shaped(np.fft.rfftfreq(num, 1.0 / SAMPLE_RATE))
    out = np.fft.irfft(spectrum_F, n=num)
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-12)


def synthesized(kind: str, num: int, rng: np.random.Generator) -> np.ndarray:
    """`num` samples of unit-RMS noise: white, pink, brown or babble (speech-like)."""
    if kind == "babble":
        return _babble(num, rng).astype(np.float32)
    if kind not in _SLOPES:
        raise ConfigError(f"noise kind {kind!r} is not one of {KINDS}")
    return _coloured(num, _SLOPES[kind], rng).astype(np.float32)


class NoiseBank:
    """30 s of each synthesized kind, made from `seed` on first use (thread-safe), from which
    utterances take random segments: a tenth of a millisecond a draw where synthesizing each
    would take several. The noises are circular (made by inverse FFT), so a segment that
    wraps around joins without a click."""

    def __init__(self, seed: int, seconds: float = _BANK_SECONDS):
        self.seed, self.num = seed, int(seconds * SAMPLE_RATE)
        self._noises: list[np.ndarray] | None = None
        self._lock = threading.Lock()

    @property
    def noises(self) -> list[np.ndarray]:
        with self._lock:
            if self._noises is None:
                rng = np.random.default_rng([self.seed, 0x401])
                self._noises = [synthesized(kind, self.num, rng) for kind in KINDS]
            return self._noises

    def draw(self, num: int, rng: np.random.Generator) -> np.ndarray:
        noises = self.noises
        return segment(noises[int(rng.integers(len(noises)))], num, rng)


def segment(noise_N: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
    """`num` samples of a noise recording from a random offset, looped if it is shorter."""
    start = int(rng.integers(len(noise_N)))
    return np.resize(np.roll(noise_N, -start), num)  # np.resize repeats the array


def audio_files(folder: str | os.PathLike) -> list[str]:
    """Every audio file (any format libsndfile reads) under `folder`, sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(
            f"augment.noise_dir={str(folder)!r} is not a folder; give a folder of noise "
            "recordings, or '' for synthesized noise"
        )
    extensions = {f".{ext.lower()}" for ext in sf.available_formats()} | {".oga"}
    paths = sorted(
        str(p) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in extensions
    )
    if not paths:
        raise ConfigError(
            f"augment.noise_dir={str(folder)!r} holds no audio files (looked for "
            f"{', '.join(sorted(extensions))}); add noise recordings or set it to '' for "
            "synthesized noise"
        )
    return paths


class NoiseFolder:
    """Noise recordings under a folder, decoded on first use (a few dozen kept; thread-safe)."""

    def __init__(self, folder: str | os.PathLike):
        self.paths = audio_files(folder)
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._lock = threading.Lock()

    def _load(self, path: str) -> np.ndarray:
        with self._lock:
            if path in self._cache:
                self._cache.move_to_end(path)
                return self._cache[path]
        samples = audio.load_audio(path)  # AudioError names a damaged file
        with self._lock:
            self._cache[path] = samples
            while len(self._cache) > _CACHED_FILES:
                self._cache.popitem(last=False)
        return samples

    def draw(self, num: int, rng: np.random.Generator) -> np.ndarray:
        path = self.paths[int(rng.integers(len(self.paths)))]
        return segment(self._load(path), num, rng)
