"""load_audio: formats, rates, channels, and a clear AudioError for every bad file.

Shape legend: B batch, S samples, C channels.
"""

import logging
import os

import numpy as np
import pytest
import soundfile as sf

from w2v2jax import frames
from w2v2jax.data import audio


def _tone(num_samples: int, rate: int) -> np.ndarray:
    t = np.arange(num_samples) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_stereo_22k_flac_becomes_mono_16k(tmp_path):
    left = _tone(22050, 22050)
    sf.write(tmp_path / "a.flac", np.stack([left, 0.5 * left], axis=1), 22050)
    audio_S = audio.load_audio(tmp_path / "a.flac")
    assert audio_S.dtype == np.float32 and audio_S.shape == (16000,)
    # flac stores 16 bits: compare with the mean of channels resampled, to 16-bit precision.
    expected_S = audio.resample(0.75 * left, 22050)
    np.testing.assert_allclose(audio_S, expected_S, atol=2e-4)


@pytest.mark.parametrize("ext", ["wav", "ogg"])
def test_16k_mono_reads_back(tmp_path, ext):
    tone_S = _tone(8000, 16000)
    sf.write(tmp_path / f"a.{ext}", tone_S, 16000)
    audio_S = audio.load_audio(tmp_path / f"a.{ext}")
    assert audio_S.shape == (8000,)
    assert np.corrcoef(audio_S, tone_S)[0, 1] > 0.99


def _write_bad(tmp_path, kind: str) -> str:
    path = str(
        tmp_path / {"unsupported": "clip.m4a", "corrupt_flac": "clip.flac"}.get(kind, "c.wav")
    )
    if kind == "empty":
        open(path, "wb").close()
    elif kind == "no_samples":
        sf.write(path, np.zeros((0,), np.float32), 16000)
    elif kind == "short":
        sf.write(path, np.zeros((399,), np.float32), 16000)
    elif kind in ("nan", "inf"):
        x = _tone(1000, 16000)
        x[10] = np.nan if kind == "nan" else np.inf
        sf.write(path, x, 16000, subtype="FLOAT")
    elif kind == "corrupt_wav":
        with open(path, "wb") as f:
            f.write(np.random.default_rng(0).bytes(2000))
    elif kind == "corrupt_flac":
        sf.write(path, _tone(16000, 16000), 16000)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    elif kind == "unsupported":
        with open(path, "wb") as f:
            f.write(np.random.default_rng(0).bytes(2000))
    return path


@pytest.mark.parametrize(
    "kind, words",
    [
        ("missing", "no such audio file"),
        ("empty", "empty"),
        ("no_samples", "no audio samples"),
        ("short", "shorter than one"),
        ("nan", "NaN or Inf"),
        ("inf", "NaN or Inf"),
        ("corrupt_wav", "corrupt"),
        ("corrupt_flac", "corrupt"),
        ("unsupported", "unsupported audio format .m4a"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, kind, words):
    path = str(tmp_path / "missing.wav") if kind == "missing" else _write_bad(tmp_path, kind)
    with pytest.raises(audio.AudioError, match=words) as info:
        audio.load_audio(path)
    assert isinstance(info.value, ValueError)
    assert os.path.basename(path) in str(info.value)


def test_8k_file_of_250_samples_is_long_enough_after_resampling(tmp_path):
    sf.write(tmp_path / "a.wav", _tone(250, 8000), 8000)
    assert audio.load_audio(tmp_path / "a.wav").shape == (500,)


def test_normalize_matches_hf_feature_extractor_on_valid_samples():
    from transformers import Wav2Vec2FeatureExtractor

    rng = np.random.default_rng(0)
    lengths = [1000, 640]
    audio_BxS = np.zeros((2, 1000), np.float32)
    audio_paddings_BxS = np.ones((2, 1000), np.float32)
    rows = []
    for b, n in enumerate(lengths):
        rows.append((3.0 + 2.0 * rng.standard_normal(n)).astype(np.float32))
        audio_BxS[b, :n], audio_paddings_BxS[b, :n] = rows[-1], 0.0
    audio_BxS[1, 640:] = 100.0  # garbage in padding must not leak into the statistics
    ours_BxS = audio.normalize(audio_BxS, audio_paddings_BxS)
    fe = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    theirs_BxS = fe(rows, sampling_rate=16000, padding=True, return_tensors="np").input_values
    np.testing.assert_allclose(ours_BxS, theirs_BxS, atol=1e-5)
    assert np.all(ours_BxS[1, 640:] == 0.0)


def test_int16_round_trip():
    x_S = np.linspace(-1, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(audio.to_float(audio.to_int16(x_S)), x_S, atol=1e-4)
    assert audio.to_int16(np.array([2.0, -2.0])).tolist() == [32767, -32768]


def test_rate_and_shortest_input_come_from_the_frame_arithmetic():
    assert audio.SAMPLE_RATE == frames.SAMPLE_RATE == 16000
    assert audio.MIN_SAMPLES == frames.receptive_field() == 400
    assert frames.frame_count(audio.MIN_SAMPLES) == 1 and frames.frame_count(399) == 0


@pytest.mark.parametrize(
    "rate, channels, subtype, cut_frames",
    [(16000, 1, "PCM_16", 4000), (22050, 2, "FLOAT", 11025), (8000, 1, "PCM_24", 800)],
)
def test_a_truncated_wav_is_read_with_a_warning_naming_it(
    tmp_path, caplog, rate, channels, subtype, cut_frames
):
    path = tmp_path / f"cut_{subtype}.wav"
    sf.write(path, np.tile(_tone(rate, rate)[:, None], (1, channels)), rate, subtype=subtype)
    frame_bytes = sf.info(path).channels * {"PCM_16": 2, "FLOAT": 4, "PCM_24": 3}[subtype]
    with open(path, "r+b") as f:  # a copy cut off: the header still announces 1 s
        f.truncate(os.path.getsize(path) - cut_frames * frame_bytes)
    with caplog.at_level(logging.WARNING):
        audio_S = audio.load_audio(path)
    missing_s = cut_frames / rate
    assert audio_S.shape == (round((rate - cut_frames) * 16000 / rate),)
    assert f"{path}: truncated: its header announces {missing_s:.2f} s more audio" in caplog.text
    assert f"the {1 - missing_s:.2f} s present are used" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        audio.load_audio(path)  # once per file: a source may read it every epoch
        sf.write(tmp_path / "whole.wav", _tone(rate, rate), rate, subtype=subtype)
        audio.load_audio(tmp_path / "whole.wav")
    assert caplog.text == ""


def test_open_ended_or_followed_data_chunks_are_not_called_truncated(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _tone(16000, 16000), 16000, subtype="PCM_16")
    whole = path.read_bytes()
    at = whole.index(b"data") + 4
    # What a recorder writing to a pipe leaves: "data until the end of the file".
    path.write_bytes(whole[:at] + b"\xff\xff\xff\xff" + whole[at + 4 :])
    assert audio.wav_missing_frames(str(path)) == 0
    path.write_bytes(whole + b"LIST\x04\x00\x00\x00INFO")  # a chunk after the samples
    assert audio.wav_missing_frames(str(path)) == 0
    path.write_bytes(whole[:-2])
    assert audio.wav_missing_frames(str(path)) == 1
