"""Audio in and out: load any file soundfile reads as float32 mono 16 kHz, with clear errors.

Every path into the data package goes through `load_audio` (user folders, manifests,
transcription) or `to_int16` (synthesis), so a bad file fails here with a message naming it,
never later as a traceback deep inside a batch.

Shape legend: B batch, S samples.
"""

import os
import struct

import numpy as np
import soundfile as sf
import soxr
from absl import logging

from w2v2jax.errors import AudioError
from w2v2jax.frames import SAMPLE_RATE, receptive_field

MIN_SAMPLES = receptive_field()  # 400: one 25 ms frame at 16 kHz; anything shorter gives none
NORM_EPS = 1e-7  # as Wav2Vec2FeatureExtractor(do_normalize=True)

# Extensions soundfile (libsndfile) decodes; "Format not recognised" on one of these means the
# file is damaged, on anything else it means the format itself is not supported.
_KNOWN_EXTS = {f".{f.lower()}" for f in sf.available_formats()} | {".oga", ".aif", ".opus"}
_CONVERT_HINT = "convert it, e.g. `ffmpeg -i IN -ac 1 -ar 16000 OUT.flac`"
_WARNED_TRUNCATED: set[str] = set()


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Reads `path` and returns float32 mono samples at 16 kHz in [-1, 1], shape [S].

    Any sample rate is resampled (soxr), multi-channel audio is averaged to mono.
    Raises AudioError for a missing, empty, corrupt, unsupported, too short or non-finite file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(
            f"{path}: no such audio file; check the path (manifests resolve "
            "relative paths against the manifest's folder)"
        )
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); re-export or remove it")
    try:
        samples_SxC, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        ext = os.path.splitext(path)[1].lower()
        if "not recognised" in str(e) and ext not in _KNOWN_EXTS:
            raise AudioError(
                f"{path}: unsupported audio format {ext or '(no extension)'} "
                f"(soundfile reads {', '.join(sorted(_KNOWN_EXTS))}); "
                f"{_CONVERT_HINT}"
            ) from e
        raise AudioError(
            f"{path}: corrupt or unreadable audio ({e}); re-export it or {_CONVERT_HINT}"
        ) from e
    missing = wav_missing_frames(path)
    if missing and path not in _WARNED_TRUNCATED:  # once: a source may read it every epoch
        _WARNED_TRUNCATED.add(path)
        logging.warning(
            "%s: truncated: its header announces %.2f s more audio than the file holds; the "
            "%.2f s present are used (re-export the file if the rest matters)",
            path,
            missing / rate,
            len(samples_SxC) / rate,
        )
    audio_S = samples_SxC.mean(axis=1, dtype=np.float32)
    # Checked before resampling: soxr would smear one NaN over its whole filter length.
    return resample(validate(audio_S, path, rate), rate)


def wav_missing_frames(path: str) -> int:
    """Frames a RIFF/WAVE file's data chunk announces but does not hold (0 for any other file).

    libsndfile quietly shortens such a file to the bytes present (a copy cut off, a recorder
    killed), so the header is read here to say so.
    """
    with open(path, "rb") as f:
        riff = f.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
            return 0
        block_align, size = 0, os.fstat(f.fileno()).st_size
        for _ in range(64):  # a WAV has a handful of chunks; stop at anything stranger
            head = f.read(8)
            if len(head) < 8:
                return 0
            chunk, length = head[:4], struct.unpack("<I", head[4:])[0]
            if chunk == b"fmt " and length >= 16:
                block_align = struct.unpack("<H", f.read(16)[12:14])[0]
                f.seek(length - 16 + (length & 1), os.SEEK_CUR)
            elif chunk == b"data":
                # 0 and 0xFFFFFFFF are what streaming writers leave: "until the end".
                if not block_align or length in (0, 0xFFFFFFFF):
                    return 0
                present = size - f.tell()
                return max(length // block_align - present // block_align, 0)
            else:
                f.seek(length + (length & 1), os.SEEK_CUR)
    return 0


def resample(audio_S: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resamples float32 mono audio from `rate` to `target` Hz (soxr, high quality)."""
    if rate == target:
        return audio_S.astype(np.float32, copy=False)
    return soxr.resample(audio_S, rate, target).astype(np.float32, copy=False)


def validate(audio_S: np.ndarray, name: str, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Checks mono audio is usable as an example; `name` goes into the error message."""
    if audio_S.size == 0:
        raise AudioError(f"{name}: contains no audio samples; re-export or remove it")
    if not np.all(np.isfinite(audio_S)):
        bad = int(np.size(audio_S) - np.count_nonzero(np.isfinite(audio_S)))
        raise AudioError(f"{name}: {bad} NaN or Inf samples; the file is damaged, re-export it")
    num_samples = round(audio_S.shape[0] * SAMPLE_RATE / rate)
    if num_samples < MIN_SAMPLES:
        raise AudioError(
            f"{name}: only {num_samples} samples at 16 kHz, shorter than one "
            f"25 ms frame ({MIN_SAMPLES}); remove it or pad it with silence"
        )
    return audio_S


def to_int16(audio_S: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> int16 for storage (clipped, rounded)."""
    return np.clip(np.round(audio_S * 32767.0), -32768, 32767).astype(np.int16)


def to_float(audio_S: np.ndarray) -> np.ndarray:
    """Stored samples (int16 or float) -> float32 in [-1, 1]."""
    if np.issubdtype(audio_S.dtype, np.integer):
        return audio_S.astype(np.float32) / 32768.0
    return audio_S.astype(np.float32, copy=False)


def normalize(audio_BxS: np.ndarray, audio_paddings_BxS: np.ndarray) -> np.ndarray:
    """Zero-mean unit-variance per row over valid samples only; padded samples become 0.

    Matches Wav2Vec2FeatureExtractor(do_normalize=True) applied to the unpadded utterance, so
    a model fine-tuned from a HF checkpoint sees the input it was trained on.
    """
    valid_BxS = 1.0 - audio_paddings_BxS.astype(np.float32)
    count_B1 = np.maximum(valid_BxS.sum(axis=1, keepdims=True), 1.0)
    mean_B1 = (audio_BxS * valid_BxS).sum(axis=1, keepdims=True) / count_B1
    var_B1 = (np.square(audio_BxS - mean_B1) * valid_BxS).sum(axis=1, keepdims=True) / count_B1
    return ((audio_BxS - mean_B1) / np.sqrt(var_B1 + NORM_EPS) * valid_BxS).astype(np.float32)
