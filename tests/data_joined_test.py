"""Words joined with silences of known length: the known boundaries are those of the audio."""

import shutil

import numpy as np
import pytest

from w2v2jax.data import joined, synth
from w2v2jax.frames import SAMPLE_RATE

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make setup)"
)


def tone(seconds, amplitude=10000.0):
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return amplitude * np.sin(2 * np.pi * 300 * t)


def test_speech_bounds_of_a_burst_in_silence():
    clip = np.concatenate([np.zeros(800), tone(0.2), np.zeros(1600)]).astype(np.int16)
    first, last = joined.speech_bounds(clip)
    # A sine crosses 1% of its amplitude within a sample of where it starts and stops.
    assert abs(first - 800) <= 1 and abs(last - 4000) <= 1
    assert joined.speech_bounds(np.zeros(500, np.int16)) == (0, 0)


def test_join_places_each_clip_where_its_word_says():
    clips = [
        np.concatenate([np.zeros(300), tone(0.1), np.zeros(700)]).astype(np.int16),
        np.concatenate([np.zeros(50), tone(0.25, 4000.0), np.zeros(100)]).astype(np.int16),
        tone(0.05).astype(np.int16),
    ]
    utt = joined.join(clips, ["a", "b", "c"], ["ə", "bi", "si"], [0.2, 0.35], edge_s=0.3)
    assert utt.text == "a b c" and utt.ipa == "ə bi si"
    edge = round(0.3 * SAMPLE_RATE)
    assert utt.words[0].start == edge
    speech = [c[slice(*joined.speech_bounds(c))] for c in clips]
    for w, s in zip(utt.words, speech, strict=True):
        np.testing.assert_array_equal(utt.audio[w.start : w.end], s)
    gaps = [b.start - a.end for a, b in zip(utt.words, utt.words[1:], strict=False)]
    assert gaps == [round(0.2 * SAMPLE_RATE), round(0.35 * SAMPLE_RATE)]
    assert len(utt.audio) == utt.words[-1].end + edge
    outside = np.ones(len(utt.audio), bool)
    for w in utt.words:
        outside[w.start : w.end] = False
    assert not np.any(utt.audio[outside])  # digital silence between the words
    assert utt.words[1].seconds() == pytest.approx(
        (utt.words[1].start / SAMPLE_RATE, utt.words[1].end / SAMPLE_RATE)
    )
    with pytest.raises(ValueError, match="3 clips need 2 gaps"):
        joined.join(clips, ["a", "b", "c"], ["ə", "bi", "si"], [0.2], edge_s=0.3)


@needs_espeak
def test_drawn_utterances_start_and_end_with_their_words_speech():
    vocabulary = ["one", "seven", "fish", "house"]
    utts = joined.draw_joined(vocabulary, count=3, seed=4, words=(2, 4))
    again = joined.draw_joined(vocabulary, count=3, seed=4, words=(2, 4))
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(utts, again, strict=True))
    ipa = dict(zip(vocabulary, synth.phonemize_many(vocabulary), strict=True))
    for utt in utts:
        assert 2 <= len(utt.words) <= 4 and utt.voice
        assert all(w.text in vocabulary and w.phonemes == ipa[w.text] for w in utt.words)
        for w in utt.words:
            word = utt.audio[w.start : w.end].astype(np.float64)
            rms = np.sqrt(np.convolve(word**2, np.ones(joined.WINDOW) / joined.WINDOW, "same"))
            level = rms.max() * 10 ** (-joined.TRIM_DB / 20)
            # The first and last samples reach 40 dB below the peak; silence just outside.
            assert abs(word[0]) >= 0.99 * level and abs(word[-1]) >= 0.99 * level
            assert not np.any(utt.audio[w.start - 10 : w.start])
            assert not np.any(utt.audio[w.end : w.end + 10])


@needs_espeak
def test_trimmed_onset_is_at_most_4_ms_after_the_first_sound():
    rng = np.random.default_rng(0)
    voices = synth.train_voices()[1]
    for word in ("five", "hat", "stop", "fish", "yes", "the", "she", "help", "voice"):
        utt = synth.draw_settings(word, voices[rng.integers(len(voices))], rng)
        clip = synth.synthesize(utt)
        first, _ = joined.speech_bounds(clip)
        sounding = np.flatnonzero(clip)[0]
        # The first non-zero samples are resampling's faint ramp, below 1% of the peak.
        assert 0 <= first - sounding <= 4e-3 * SAMPLE_RATE, (word, utt.voice.name)
