"""Error rates by Levenshtein distance (rapidfuzz), summed over a corpus: CER, WER, PER, FER.

Each rate is total edits over total reference units (characters, words, phonemes, panphon
segments), not a mean of per-utterance ratios, as jiwer computes them. CER counts code
points of the text as given, spaces included; WER splits on whitespace; PER counts the
phoneme units of `w2v2jax.data.ipa` (tʃ, aɪ, iː one unit each), word boundaries left out;
FER is in `features`.

    rates = ErrorRates(phonemes=True)
    rates.add("tʃˈiːz", "dʒiːs")
    rates.per, rates.fer, rates.cer, rates.wer
    cer(refs, hyps); wer(...); per(...); fer(...)        # a corpus (lists) or one pair
"""

from collections.abc import Iterable, Sequence

from rapidfuzz.distance import Levenshtein

from w2v2jax.data import ipa
from w2v2jax.errors import InputError, UsageError
from w2v2jax.scoring.features import FeatureErrors


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance between two strings, or two lists of hashables (units)."""
    return Levenshtein.distance(ref, hyp)


class ErrorRates:
    """Accumulates edits and reference lengths of a corpus, one (ref, hyp) pair at a time.

    phonemes=True also keeps PER and FER, reading units with `inventory` (the tokenizer's
    multi-symbol units) unless `add` is given them. strict=False scores a unit panphon has
    no features for as a segment of its own (see features.py) instead of raising.
    """

    def __init__(
        self,
        *,
        phonemes: bool = False,
        inventory: Iterable[str] = ipa.MULTI_PHONEMES,
        strict: bool = True,
    ):
        self.count = self.char_edits = self.chars = self.word_edits = self.words = 0
        self.phone_edits = self.phones = 0
        self.inventory = frozenset(inventory)
        self.features = FeatureErrors(strict) if phonemes else None

    def add(
        self,
        ref: str,
        hyp: str,
        ref_units: Sequence[str] | None = None,
        hyp_units: Sequence[str] | None = None,
    ) -> None:
        """One pair; `ref_units`/`hyp_units`: their phoneme units when the caller has them
        (a CTC model's label symbols), else read from the texts."""
        self.char_edits += Levenshtein.distance(ref, hyp)
        self.chars += len(ref)
        ref_words, hyp_words = ref.split(), hyp.split()
        self.word_edits += Levenshtein.distance(ref_words, hyp_words)
        self.words += len(ref_words)
        self.count += 1
        if self.features is None:
            return
        if ref_units is None:
            ref_units = ipa.phonemes(ref, self.inventory)
        if hyp_units is None:
            hyp_units = ipa.phonemes(hyp, self.inventory)
        self.phone_edits += Levenshtein.distance(ref_units, hyp_units)
        self.phones += len(ref_units)
        self.features.add(ref_units, hyp_units)

    @property
    def cer(self) -> float:
        return self.char_edits / max(self.chars, 1)

    @property
    def wer(self) -> float:
        return self.word_edits / max(self.words, 1)

    @property
    def per(self) -> float:
        self._need_phonemes()
        return self.phone_edits / max(self.phones, 1)

    @property
    def fer(self) -> float:
        self._need_phonemes()
        return self.features.fer

    def rates(self) -> dict[str, float]:
        """{"cer", "wer"}, and "per", "fer" when phonemes are kept."""
        out = {"cer": self.cer, "wer": self.wer}
        if self.features is not None:
            out.update(per=self.per, fer=self.fer)
        return out

    def _need_phonemes(self) -> None:
        if self.features is None:
            raise UsageError("PER and FER need ErrorRates(phonemes=True)")


def _corpus(refs, hyps, **kwargs) -> ErrorRates:
    refs, hyps = ([refs], [hyps]) if isinstance(refs, str) else (list(refs), list(hyps))
    if len(refs) != len(hyps) or any(not isinstance(t, str) for t in (*refs, *hyps)):
        raise InputError(
            f"got {len(refs)} references and {len(hyps)} hypotheses: pass one string each "
            "or two lists of strings of the same length"
        )
    rates = ErrorRates(**kwargs)
    for ref, hyp in zip(refs, hyps, strict=True):
        rates.add(ref, hyp)
    return rates


def cer(refs: str | Sequence[str], hyps: str | Sequence[str]) -> float:
    """Character error rate of a corpus (or one pair): total edits / total reference chars."""
    return _corpus(refs, hyps).cer


def wer(refs: str | Sequence[str], hyps: str | Sequence[str]) -> float:
    """Word error rate of a corpus (or one pair): total edits / total reference words."""
    return _corpus(refs, hyps).wer


def per(refs, hyps, *, inventory: Iterable[str] = ipa.MULTI_PHONEMES) -> float:
    """Phoneme error rate of IPA texts: total unit edits / total reference units."""
    return _corpus(refs, hyps, phonemes=True, inventory=inventory).per


def fer(refs, hyps, *, inventory: Iterable[str] = ipa.MULTI_PHONEMES, strict=True) -> float:
    """Feature-weighted phone error of IPA texts (features.py): panphon's feature edit
    distances / reference segments. strict=False scores unknown units as whole phones."""
    return _corpus(refs, hyps, phonemes=True, inventory=inventory, strict=strict).fer
