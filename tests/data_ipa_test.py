"""IPA normalisation: the hard cases of two spellings for one sound, and the phoneme units."""

import unicodedata

import pytest

from w2v2jax.data import ipa


@pytest.mark.parametrize(
    "variants, spelled",
    [
        (["ɚ", "ə˞"], "ɚ"),  # rhotic schwa: one code point wins
        (["ɝ", "ɜ˞"], "ɝ"),
        (["tʃ", "t͡ʃ", "t͜ʃ", "ʧ"], "tʃ"),  # tie bar, undertie, ligature
        (["dʒ", "d͡ʒ", "ʤ"], "dʒ"),
        (["\u0129", "i\u0303"], "\u0129"),  # ĩ: precomposed or i + combining tilde
        (["aː", "a:"], "aː"),  # ASCII colon as length
        (["ɡ", "g"], "ɡ"),  # ASCII g is the IPA's U+0261
        (["ɛ", "ε"], "ɛ"),  # Greek epsilon
        (["ə", "ǝ"], "ə"),  # turned e
        (["a\u0303\u0325", "a\u0325\u0303"], unicodedata.normalize("NFC", "a\u0303\u0325")),
    ],
)
def test_equivalent_spellings_become_one(variants, spelled):
    assert {ipa.normalize(v) for v in variants} == {spelled}
    assert {tuple(ipa.phonemes(v)) for v in variants} == {(spelled,)}  # and one unit


def test_nasal_vowels_are_one_unit_whether_or_not_they_have_one_code_point():
    assert len(ipa.normalize("i\u0303")) == 1  # NFC: ĩ has a precomposed form
    assert ipa.normalize("ɛ\u0303") == "ɛ\u0303"  # ɛ̃ has none and stays two code points
    assert ipa.phonemes("bɔ̃ ĩ ɛ̃") == ["b", "ɔ̃", "ĩ", "ɛ̃"]


def test_stress_and_length_by_flag():
    assert ipa.normalize("ˈθɹiː ˌwʌn") == "θɹiː wʌn"
    assert ipa.normalize("ˈθɹiː ˌwʌn", stress=True) == "ˈθɹiː ˌwʌn"
    assert ipa.normalize("ˈθɹiː", length=False) == "θɹi"
    assert ipa.normalize("a:ˑ", stress=True, length=False) == "a"


def test_ties_kept_by_flag_as_the_one_tie_bar():
    assert ipa.normalize("t͜ʃ", ties=True) == "t͡ʃ"


def test_multi_symbol_units_whole_and_marks_attached():
    assert ipa.phoneme_words("tʃˈaɪldz θɹˈiː") == [["tʃ", "aɪ", "l", "d", "z"], ["θ", "ɹ", "iː"]]
    # A tie makes a unit of any pair, written without its tie; untied, ts is two.
    assert ipa.phonemes("t͡sa") == ["ts", "a"]
    assert ipa.phonemes("tsa") == ["t", "s", "a"]
    assert ipa.phonemes("tsa", inventory=("ts",)) == ["ts", "a"]
    # Modifier letters belong to the phone before them; NFKC would have made tʰ "th".
    assert ipa.phonemes("tʰa kʷə˞ n̩") == ["tʰ", "a", "kʷ", "ɚ", "n̩"]


def test_espeak_language_switches_and_whitespace_go():
    assert ipa.normalize(" (fr)bɔ̃ʒˈuʁ(en)  hˈɛloʊ ") == "bɔ̃ʒuʁ hɛloʊ"


def test_different_sounds_stay_apart():
    assert ipa.normalize("r ɹ a ɑ l ɫ ᵻ") == "r ɹ a ɑ l ɫ ᵻ"


@pytest.mark.parametrize("text", ["ˈt͡ʃɜ˞ g:", "i\u0303 ɛ̃ t͜s", "(en)ʧ ǝ ε ∫"])
def test_normalize_is_idempotent(text):
    once = ipa.normalize(text)
    assert ipa.normalize(once) == once
    # the units read from a normalized text are the same when its ties were kept
    assert ipa.phoneme_words(ipa.normalize(text, ties=True)) == ipa.phoneme_words(text)
