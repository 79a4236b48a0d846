"""Augmentation: each one changes the audio as stated, and the Augmenter is a pure function
of its Generator (issue 16).

Shape legend: S samples, R impulse response taps.
"""

import numpy as np
import pytest
import soundfile as sf

from w2v2jax.data import augment, noise, rooms
from w2v2jax.errors import ConfigError

SR = 16000


def _tone(hz=220.0, seconds=3.0, amplitude=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(x_S):
    spectrum = np.abs(np.fft.rfft(x_S * np.hanning(len(x_S))))
    return float(np.fft.rfftfreq(len(x_S), 1 / SR)[np.argmax(spectrum)])


def _speech_like(seconds=2.0, seed=0):
    """Babble-shaped noise with pauses: a stand-in for speech with a realistic spectrum."""
    return 0.1 * noise.synthesized("babble", int(seconds * SR), np.random.default_rng(seed))


def _share_above(x_S, hz):
    power = np.abs(np.fft.rfft(x_S)) ** 2
    return float(power[np.fft.rfftfreq(len(x_S), 1 / SR) > hz].sum() / power.sum())


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_speed_changes_length_by_the_factor_and_pitch_with_it(factor):
    x = _tone()
    y = augment.speed(x, factor)
    assert len(y) == round(len(x) / factor) == augment.speed_length(len(x), factor)
    assert abs(_peak_hz(y) / (220 * factor) - 1) < 0.01


@pytest.mark.parametrize("semitones", [-2.0, 0.5, 3.0])
def test_pitch_shift_moves_a_tone_by_the_semitones_and_keeps_the_duration(semitones):
    x = _tone()
    y = augment.pitch_shift(x, semitones)
    assert len(y) == len(x)
    assert abs(_peak_hz(y) / (220 * 2 ** (semitones / 12)) - 1) < 0.01
    # WSOLA joins periods in phase: the level stays (no beating between frames).
    rms = np.sqrt(np.mean(y[SR // 10 : -SR // 10] ** 2))
    assert abs(rms / np.sqrt(np.mean(x**2)) - 1) < 0.02


def test_time_stretch_keeps_the_pitch():
    y = augment.time_stretch(_tone(330.0), 60000)
    assert len(y) == 60000 and abs(_peak_hz(y) / 330 - 1) < 0.01


@pytest.mark.parametrize("kind", noise.KINDS)
@pytest.mark.parametrize("snr_db", [0.0, 7.5, 20.0])
def test_noise_is_added_at_the_asked_snr(kind, snr_db):
    speech = _speech_like()
    noisy = noise.add_noise(
        speech, noise.synthesized(kind, len(speech), np.random.default_rng(1)), snr_db
    )
    measured = 10 * np.log10(np.mean(speech**2) / np.mean((noisy - speech) ** 2))
    assert abs(measured - snr_db) < 0.5


def test_noise_colours_fall_with_frequency_as_named():
    rng = np.random.default_rng(0)
    low_to_high = {}
    for kind in ("white", "pink", "brown"):
        x = noise.synthesized(kind, 4 * SR, rng)
        assert abs(np.sqrt(np.mean(x**2)) - 1) < 1e-3
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / SR)
        low_to_high[kind] = (
            power[(f > 200) & (f < 400)].mean() / power[(f > 3200) & (f < 6400)].mean()
        )
    # One decade-ish up (x16 in frequency): flat, -1/f (x16) and -1/f^2 (x256).
    assert 0.8 < low_to_high["white"] < 1.25
    assert 10 < low_to_high["pink"] < 25
    assert 150 < low_to_high["brown"] < 400


def test_noise_from_a_folder_at_the_asked_snr_and_looped(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "hum.wav", 0.3 * np.sin(np.arange(4000) * 0.05), SR)
    (tmp_path / "notes.txt").write_text("not audio")
    folder = noise.NoiseFolder(tmp_path)
    assert [p.endswith("hum.wav") for p in folder.paths] == [True]
    speech = _speech_like()
    sound = folder.draw(len(speech), rng)  # 0.25 s of noise looped over 2 s
    assert len(sound) == len(speech) and np.abs(sound).max() > 0.25
    noisy = noise.add_noise(speech, sound, 10.0)
    assert abs(10 * np.log10(np.mean(speech**2) / np.mean((noisy - speech) ** 2)) - 10) < 0.5


def test_a_noise_dir_without_audio_is_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match=r"augment.noise_dir=.* is not a folder"):
        augment.Augmenter({"noise_prob": 0.5, "noise_dir": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match=r"augment.noise_dir=.* holds no audio files"):
        augment.Augmenter({"noise_prob": 0.5, "noise_dir": str(tmp_path)})


def _schroeder_rt60(rir_R, decay_db=(5.0, 35.0)):
    """RT60 by Schroeder backward integration and a least-squares line over -5..-35 dB (T30),
    the test's own measure, independent of the one the module calibrates with."""
    energy = np.cumsum(rir_R[::-1].astype(np.float64) ** 2)[::-1]
    curve_db = 10 * np.log10(energy / energy[0])
    hi, lo = -decay_db[0], -decay_db[1]
    idx = np.flatnonzero((curve_db <= hi) & (curve_db >= lo))
    slope = np.polyfit(idx / SR, curve_db[idx], 1)[0]  # dB per second
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.3, 0.6])
def test_an_impulse_response_has_the_asked_rt60_within_20_percent(rt60):
    rir = rooms.room_impulse_response(rt60, np.random.default_rng(int(rt60 * 10)))
    assert abs(_schroeder_rt60(rir) / rt60 - 1) < 0.2
    assert abs(rooms.measure_rt60(rir) / rt60 - 1) < 0.2
    assert np.argmax(np.abs(rir)) < 20 and abs(np.sum(rir**2) - 1) < 1e-4  # direct path first


def test_reverberation_keeps_length_and_level_and_smears_in_time():
    rir = rooms.room_impulse_response(0.5, np.random.default_rng(0))
    click = np.zeros(SR, np.float32)
    click[1000] = 1.0
    wet = rooms.reverberate(click, rir)
    assert len(wet) == SR and abs(np.sqrt(np.mean(wet**2)) - np.sqrt(np.mean(click**2))) < 1e-6
    assert np.abs(wet[: 1000 - 20]).max() < 1e-6  # nothing before the sound (FFT round-off)
    assert np.sum(wet[1000 + SR // 10 :] ** 2) > 0.01 * np.sum(wet**2)  # a tail after 100 ms


def test_room_bank_is_built_once_from_the_seed():
    a = rooms.RoomBank(2, (0.2, 0.3), seed=4)
    b = rooms.RoomBank(2, (0.2, 0.3), seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.rirs, b.rirs, strict=True))
    assert a.rirs is a.rirs
    assert not np.array_equal(rooms.RoomBank(2, (0.2, 0.3), seed=5).rirs[0], a.rirs[0])


def test_telephone_removes_energy_above_3400_hz_and_below_300_hz():
    x = (0.1 * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32)
    y = augment.telephone(x)
    assert len(y) == len(x)
    assert _share_above(x, 3400) > 0.5
    assert _share_above(y, 3400) < 0.01 and _share_above(y, 4000) < 1e-4
    assert 1 - _share_above(y, 250) < 0.01  # below 250 Hz: under 1% of what is left
    assert 0.3 < _share_above(y, 1000) < 0.9  # the band itself passes


def test_gain_scales_by_the_decibels_and_clips():
    x = _tone(amplitude=0.1)
    np.testing.assert_allclose(augment.gain(x, -6.0), x * 10 ** (-6 / 20), rtol=1e-6)
    loud = augment.gain(x, 20.0)  # 0.1 -> 1.0 peak
    assert np.abs(loud).max() <= 1.0 and np.isclose(np.abs(augment.gain(x, 26.0)).max(), 1.0)


ALL_ON = {
    "speed_prob": 0.5,
    "pitch_prob": 0.5,
    "noise_prob": 0.5,
    "reverb_prob": 0.5,
    "telephone_prob": 0.5,
    "gain_prob": 0.5,
    "num_rooms": 2,
    "rt60_s": (0.2, 0.4),
}


def test_augmenter_is_deterministic_for_a_seed():
    x = _speech_like()
    a, b = augment.Augmenter(ALL_ON, seed=1), augment.Augmenter(ALL_ON, seed=1)
    outs = [a(x, np.random.default_rng([7, k])) for k in range(8)]
    for k, out in enumerate(outs):
        np.testing.assert_array_equal(out, b(x, np.random.default_rng([7, k])))
        assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert len({o.tobytes() for o in outs}) == 8  # different draws, different audio
    assert {len(o) for o in outs} <= {augment.speed_length(len(x), f) for f in (0.9, 1.0, 1.1)}


def test_augmenter_off_by_default_leaves_audio_untouched():
    aug = augment.Augmenter()
    assert not aug.active and augment.Augmenter({"gain_prob": 0.1}).active
    x = _speech_like()
    np.testing.assert_array_equal(aug(x, np.random.default_rng(0)), x)


@pytest.mark.parametrize("name", augment.PROBS)
def test_each_augmentation_applies_with_its_probability(name):
    cfg = {name: 0.5, "num_rooms": 1, "rt60_s": (0.2, 0.2), "speed_factors": (1.1,)}
    aug, x = augment.Augmenter(cfg), _speech_like(0.5)
    changed = [not np.array_equal(aug(x, np.random.default_rng(k)), x) for k in range(40)]
    assert 10 <= sum(changed) <= 30  # about half of 40


@pytest.mark.parametrize("audio_S", [np.zeros(SR, np.float32), _tone(seconds=400 / SR)])
def test_silence_and_the_shortest_audio_stay_finite(audio_S):
    cfg = {name: 1.0 for name in augment.PROBS} | {"num_rooms": 1, "rt60_s": (0.2, 0.2)}
    aug = augment.Augmenter(cfg)
    for k in range(6):
        out = aug(audio_S, np.random.default_rng(k))
        assert np.all(np.isfinite(out))
        assert len(out) in {augment.speed_length(len(audio_S), f) for f in (0.9, 1.0, 1.1)}


def test_speed_factor_is_drawn_among_the_lengths_that_fit():
    x, aug = _speech_like(1.0), augment.Augmenter({"speed_prob": 1.0})
    limit = len(x) + 10  # 0.9 (1.11x longer) does not fit
    lengths = {len(aug(x, np.random.default_rng(k), lambda n: n <= limit)) for k in range(30)}
    assert lengths == {len(x), augment.speed_length(len(x), 1.1)}
    np.testing.assert_array_equal(aug(x, np.random.default_rng(0), lambda n: False), x)


BAD = [
    ({"noise_prob": 1.5}, r"augment.noise_prob=1.5: must be a number from 0 to 1"),
    ({"gain_prob": -0.1}, r"augment.gain_prob=-0.1"),
    ({"snr_db": (20.0, 5.0)}, r"augment.snr_db=\(20.0, 5.0\): give \(low, high\)"),
    ({"rt60_s": (0.0, 0.5)}, r"augment.rt60_s=.*0.1 <= low"),
    ({"gain_db": (1.0,)}, r"augment.gain_db="),
    ({"pitch_semitones": (-2.0, 20.0)}, r"augment.pitch_semitones="),
    ({"speed_factors": ()}, r"augment.speed_factors=\(\): give one or more speeds"),
    ({"speed_factors": (0.9, 3.0)}, r"augment.speed_factors="),
    ({"num_rooms": 0}, r"augment.num_rooms=0"),
    ({"noise_dir": 3}, r"augment.noise_dir=3"),
    ({"speed": 0.5}, r"augment has no field\(s\) \['speed'\]"),
]


@pytest.mark.parametrize("cfg,message", BAD, ids=[str(c) for c, _ in BAD])
def test_a_bad_augment_field_is_one_sentence(cfg, message):
    with pytest.raises(ConfigError, match=message):
        augment.check_config(cfg)


def test_the_run_config_defaults_are_the_augmenters():
    from w2v2jax.configs.common import run_config

    assert dict(run_config("micro").augment) == augment.DEFAULTS
