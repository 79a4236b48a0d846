"""CER, WER and PER against jiwer (the reference implementation) and by hand."""

import jiwer
import numpy as np
import pytest

from w2v2jax import scoring
from w2v2jax.data import ipa, texts
from w2v2jax.errors import InputError, UsageError
from w2v2jax.scoring import ErrorRates


def _garble(rng, text: str, alphabet: str) -> str:
    """The text with a few random character substitutions, deletions and insertions."""
    chars = list(text)
    for _ in range(rng.integers(0, 5)):
        i, op = int(rng.integers(0, len(chars) + 1)), rng.integers(0, 3)
        c = alphabet[rng.integers(0, len(alphabet))]
        if op == 0 and i < len(chars):
            chars[i] = c
        elif op == 1 and i < len(chars):
            del chars[i]
        else:
            chars.insert(i, c)
    return " ".join("".join(chars).split()) or "a"


def _pairs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    refs = [texts.words_text(rng) for _ in range(n)]
    return refs, [_garble(rng, r, "abcdefghijklmnopqrstuvwxyz ") for r in refs]


def test_edit_distance_on_strings_and_lists_and_the_old_corpus_totals():
    assert scoring.edit_distance("kitten", "sitting") == 3
    assert scoring.edit_distance("", "abc") == 3
    assert scoring.edit_distance(["tʃ", "a"], ["t", "ʃ", "a"]) == 2
    r = ErrorRates()
    r.add("one two", "one too")
    r.add("three", "three")
    assert r.cer == pytest.approx(1 / 12) and r.wer == pytest.approx(1 / 3) and r.count == 2
    assert r.rates() == {"cer": r.cer, "wer": r.wer}


def test_cer_and_wer_match_jiwer_on_random_pairs():
    refs, hyps = _pairs()
    assert scoring.cer(refs, hyps) == pytest.approx(jiwer.cer(refs, hyps), rel=1e-12)
    assert scoring.wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), rel=1e-12)
    # totals over the corpus, not a mean of ratios: jiwer agrees pair by pair too
    for ref, hyp in zip(refs[:20], hyps[:20], strict=True):
        assert scoring.cer(ref, hyp) == pytest.approx(jiwer.cer(ref, hyp), rel=1e-12)


def test_per_counts_a_multi_symbol_unit_once():
    assert scoring.per("tʃiːz", "tʃiːz") == 0
    # tʃ -> dʒ is one substitution of three units, not two of five characters
    assert scoring.per("tʃiːz", "dʒiːz") == pytest.approx(1 / 3)
    assert scoring.cer("tʃiːz", "dʒiːz") == pytest.approx(2 / 5)
    assert scoring.per("aɪ", "a") == 1  # a diphthong for a monophthong: one substitution
    assert scoring.per("t͡ʃɪp", "tʃˈɪp") == 0  # spellings and stress do not count
    assert scoring.per("tsa", "t͡sa") == pytest.approx(2 / 3)  # t s (two) against ts (one)
    assert scoring.per("tsa", "tʃa", inventory=("ts", "tʃ")) == pytest.approx(1 / 2)


def test_per_matches_jiwer_over_space_separated_units():
    rng = np.random.default_rng(1)
    words = ["θɹˈiː", "wˈʌn", "tʃˈaɪldz", "dʒˈʌmp", "ɡˈoʊ", "stˈɑːp", "zˈiəɹoʊ", "bˈɜːd"]
    refs = [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(200)]
    hyps = [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(200)]
    spaced_refs = [" ".join(ipa.phonemes(t)) for t in refs]
    spaced_hyps = [" ".join(ipa.phonemes(t)) for t in hyps]
    assert scoring.per(refs, hyps) == pytest.approx(jiwer.wer(spaced_refs, spaced_hyps))


def test_units_given_by_the_caller_are_used_as_they_are():
    r = ErrorRates(phonemes=True)
    r.add("aɪ", "aɪ", ["aɪ"], ["a", "ɪ"])  # the model emitted a and ɪ apart
    assert r.per == 2 and r.cer == 0


def test_misuse_names_the_problem():
    with pytest.raises(UsageError, match="phonemes=True"):
        _ = ErrorRates().per
    with pytest.raises(InputError, match="2 references and 1 hypotheses"):
        scoring.cer(["a", "b"], ["a"])
    # an empty corpus, or empty texts, score 0, not a division by zero
    assert ErrorRates(phonemes=True).rates() == dict.fromkeys(("cer", "wer", "per", "fer"), 0)
    empty = ErrorRates(phonemes=True)
    empty.add("", "")
    assert empty.rates() == dict.fromkeys(("cer", "wer", "per", "fer"), 0)
