"""Scoring transcripts: CER, WER, PER by edit distance (rapidfuzz) and the feature-weighted
phone error FER (panphon), each summed over a corpus.

    rates = ErrorRates(phonemes=True)                 # or ErrorRates() for CER and WER
    for ref, hyp in pairs:
        rates.add(ref, hyp)
    rates.rates()                                     # {"cer", "wer", "per", "fer"}
    per(["tʃiːz"], ["dʒiːs"]); fer("tɑː", "dɑː")      # corpus lists, or one pair

Modules: rates (edit distances, the accumulator, the plain functions), features (panphon's
feature edit distance, batched; its FER definition). Imports only data (for the IPA
spelling and its units), errors and files from the package.
"""

from w2v2jax.scoring.features import (
    PANPHON_SPELLING,
    FeatureErrors,
    UnknownPhoneError,
    feature_distance,
    panphon_spelling,
)
from w2v2jax.scoring.rates import ErrorRates, cer, edit_distance, fer, per, wer

__all__ = [
    "PANPHON_SPELLING",
    "ErrorRates",
    "FeatureErrors",
    "UnknownPhoneError",
    "cer",
    "edit_distance",
    "feature_distance",
    "fer",
    "panphon_spelling",
    "per",
    "wer",
]
