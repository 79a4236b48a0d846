"""CTC for w2v2jax: loss, decoding, alignment. Pure jax + numpy (no flax).

Legend: B batch, T frames, V vocabulary, U label length. Paddings, not lengths: 1.0 = pad.
"""

from w2v2jax.ctc.align import Alignment, WordSpan, forced_align, word_spans
from w2v2jax.ctc.decode import greedy_decode, prefix_beam_search, to_lists
from w2v2jax.ctc.lm import ArpaLM
from w2v2jax.ctc.loss import ctc_loss, ctc_loss_reduced

__all__ = [
    "Alignment",
    "ArpaLM",
    "WordSpan",
    "ctc_loss",
    "ctc_loss_reduced",
    "forced_align",
    "greedy_decode",
    "prefix_beam_search",
    "to_lists",
    "word_spans",
]
