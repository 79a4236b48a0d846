"""Speech synthesis with flite and espeak-ng: voices, per-utterance settings, IPA phonemes.

A `Voice` plus speed/pitch is drawn in the parent process from the corpus seed, so the audio is
a pure function of (text, voice, speed, pitch) and the corpus is identical for the same seed
whatever the worker scheduling. Both programs are deterministic.

Voices are split by speaker, not by accent: test voices are espeak-ng variants (speaker
timbres) never heard in training, spoken with the training accents, plus the flite voice kal16.
"""

import dataclasses
import io
import shutil
import subprocess

import numpy as np
import soundfile as sf

from w2v2jax.data import audio
from w2v2jax.errors import SetupError

FLITE_TRAIN = ("slt", "rms", "awb")
FLITE_TEST = ("kal16",)
ESPEAK_ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
ESPEAK_TRAIN_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "klatt", "klatt2")
ESPEAK_TEST_VARIANTS = ("m6", "m7", "f4", "f5", "klatt3")
PHONEME_VOICE = "en-us"  # labels come from one fixed voice so they do not depend on the speaker
ESPEAK_GAIN = 0.9  # espeak-ng peaks near full scale; resampling would clip without headroom
_TIMEOUT_S = 60


@dataclasses.dataclass(frozen=True)
class Voice:
    engine: str  # "flite" or "espeak"
    name: str  # flite voice, or espeak-ng "accent+variant"

    @property
    def group(self) -> str:
        return "flite" if self.engine == "flite" else "espeak"


@dataclasses.dataclass(frozen=True)
class Utterance:
    text: str
    voice: Voice
    speed: float  # espeak-ng -s words per minute; flite duration_stretch
    pitch: int  # espeak-ng -p 0-99; unused by flite (its voices keep their own pitch)


def espeak_voices(variants) -> list[Voice]:
    return [Voice("espeak", a + (f"+{v}" if v else "")) for a in ESPEAK_ACCENTS for v in variants]


def train_voices() -> tuple[list[Voice], list[Voice]]:
    """(flite voices, espeak voices) used for train and validation."""
    return [Voice("flite", v) for v in FLITE_TRAIN], espeak_voices(ESPEAK_TRAIN_VARIANTS)


def test_voices() -> tuple[list[Voice], list[Voice]]:
    """(flite voices, espeak voices) never used in training."""
    return [Voice("flite", v) for v in FLITE_TEST], espeak_voices(ESPEAK_TEST_VARIANTS)


def draw_settings(text: str, voice: Voice, rng: np.random.Generator) -> Utterance:
    if voice.engine == "flite":
        return Utterance(text, voice, round(float(rng.uniform(0.85, 1.2)), 3), 0)
    return Utterance(text, voice, int(rng.integers(130, 200)), int(rng.integers(25, 76)))


def check_installed(engines=("flite", "espeak-ng")) -> None:
    missing = [e for e in engines if shutil.which(e) is None]
    if missing:
        raise SetupError(
            f"{', '.join(missing)} not found; install with "
            f"`apt-get install -y {' '.join(missing)}` (or `make apt`)"
        )


def _run(cmd: list[str], text: str | None = None) -> bytes:
    # Text goes through stdin for espeak-ng so a transcript starting with "-" is not an option.
    stdin = None if text is None else text.encode("utf-8")
    try:
        return subprocess.run(
            cmd, input=stdin, capture_output=True, check=True, timeout=_TIMEOUT_S
        ).stdout
    except subprocess.CalledProcessError as e:
        raise SetupError(f"{' '.join(cmd)!r} failed: {e.stderr.decode(errors='replace')}") from e


def synthesize(utt: Utterance) -> np.ndarray:
    """int16 samples at 16 kHz, shape [S]; nothing trimmed."""
    if utt.voice.engine == "flite":
        cmd = [
            "flite",
            "-voice",
            utt.voice.name,
            "--setf",
            f"duration_stretch={utt.speed}",
            "-t",
            utt.text,
            "-o",
            "/dev/stdout",
        ]
        gain = 1.0
    else:
        cmd = [
            "espeak-ng",
            "-v",
            utt.voice.name,
            "-s",
            str(utt.speed),
            "-p",
            str(utt.pitch),
            "--stdout",
            "--stdin",
        ]
        gain = ESPEAK_GAIN
    wav = _run(cmd, None if utt.voice.engine == "flite" else utt.text)
    samples_S, rate = sf.read(io.BytesIO(wav), dtype="float32")
    name = f"{utt.voice.name} saying {utt.text!r}"
    return audio.to_int16(audio.validate(audio.resample(samples_S * gain, rate), name))


def phonemize(text: str) -> str:
    """espeak-ng's IPA for `text` (stress marks kept; clause breaks become spaces)."""
    out = _run(["espeak-ng", "-q", "--ipa", "-v", PHONEME_VOICE, "--stdin"], text)
    return " ".join(out.decode("utf-8").split())


def phonemize_many(texts: list[str], chunk: int = 200) -> list[str]:
    """phonemize over a list, ~8x faster: one espeak-ng call per chunk, texts as paragraphs.

    espeak-ng prints one line per paragraph unless punctuation splits a clause; a chunk whose
    line count does not match falls back to one call per text, so the result is always exact.
    """
    out = []
    for start in range(0, len(texts), chunk):
        part = [" ".join(t.split()) for t in texts[start : start + chunk]]
        raw = _run(["espeak-ng", "-q", "--ipa", "-v", PHONEME_VOICE, "--stdin"], "\n\n".join(part))
        lines = [" ".join(x.split()) for x in raw.decode("utf-8").split("\n") if x.strip()]
        out.extend(lines if len(lines) == len(part) else [phonemize(t) for t in part])
    return out
