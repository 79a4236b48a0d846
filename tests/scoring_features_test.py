"""FER against panphon's own numbers: its feature edit distance and feature error rate."""

import numpy as np
import pytest
from panphon.distance import Distance

from w2v2jax import scoring
from w2v2jax.data import ipa
from w2v2jax.scoring import ErrorRates, UnknownPhoneError, features

# espeak-ng en-us units, with the ones panphon spells otherwise (tʃ dʒ ɚ ᵻ) among them
UNITS = (
    "p b t d k ɡ f v θ ð s z ʃ ʒ h m n ŋ l ɹ w j tʃ dʒ ɾ ʔ i iː ɪ ɛ æ ɑː ɔː ʊ uː ʌ ə ɚ ɜː ᵻ aɪ oʊ"
)


@pytest.fixture(scope="module")
def panphon():
    return Distance()


def _random_texts(rng, n):
    units = UNITS.split()
    return [
        " ".join("".join(rng.choice(units, rng.integers(1, 6))) for _ in range(rng.integers(1, 4)))
        for _ in range(n)
    ]


def test_a_substitution_costs_what_panphon_says(panphon):
    for ref, hyp in [
        ("t", "d"),
        ("t", "a"),
        ("kæt", "ɡæd"),
        ("stɑːp", "tɑp"),
        ("", "ə"),
        ("a", ""),
    ]:
        ours = scoring.feature_distance(ipa.phonemes(ref), ipa.phonemes(hyp))
        assert ours == pytest.approx(panphon.feature_edit_distance(hyp, ref), abs=1e-12)
    assert scoring.fer("t", "d") == pytest.approx(1 / 24)  # voicing: one feature of 24


def test_a_near_miss_costs_less_than_a_far_one():
    assert scoring.fer("t", "d") < scoring.fer("t", "a") < scoring.fer("t", "")
    assert scoring.per("t", "d") == scoring.per("t", "a") == 1  # PER cannot tell them apart


def test_fer_is_panphons_feature_error_rate_on_random_pairs(panphon):
    rng = np.random.default_rng(0)
    refs, hyps = _random_texts(rng, 150), _random_texts(rng, 150)
    spelled = [scoring.panphon_spelling(ipa.phonemes(t)) for t in (*refs, *hyps)]
    expected = panphon.feature_error_rate(spelled[150:], spelled[:150])
    assert scoring.fer(refs, hyps) == pytest.approx(expected, rel=1e-12)


def test_panphon_spelling_of_the_units_it_lacks():
    assert scoring.panphon_spelling(["tʃ", "ɚ", "ᵻ", "aɪ"]) == "t͡ʃə˞ɨaɪ"
    fer = features.FeatureErrors()
    fer.add(["tʃ", "aɪ"], ["tʃ", "aɪ"])
    assert fer.segments == 3  # an affricate is one segment, a diphthong two


def test_batched_distances_equal_pair_by_pair(monkeypatch):
    rng = np.random.default_rng(1)
    refs, hyps = _random_texts(rng, 40), _random_texts(rng, 40)
    refs[3], hyps[5] = "", ""
    one_by_one = [
        scoring.feature_distance(ipa.phonemes(r), ipa.phonemes(h))
        for r, h in zip(refs, hyps, strict=True)
    ]
    monkeypatch.setattr(features, "CHUNK", 7)  # several chunks, sorted by length
    errors = features.FeatureErrors()
    for r, h in zip(refs, hyps, strict=True):
        errors.add(ipa.phonemes(r), ipa.phonemes(h))
    assert errors.edits == pytest.approx(sum(one_by_one), rel=1e-12)


def test_a_symbol_panphon_lacks_is_named_or_counted_as_a_whole_phone():
    with pytest.raises(UnknownPhoneError, match="'#'"):
        scoring.fer("a#", "a")
    rates = ErrorRates(phonemes=True, strict=False)
    rates.add("a#", "a#")
    rates.add("b#", "b")
    assert rates.features.edits == pytest.approx(1.0)  # deleting it costs one phone
    assert rates.fer == pytest.approx(1 / 4) and rates.features.unknown == {"#"}
