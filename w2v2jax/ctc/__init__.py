"""CTC for w2v2jax: loss, decoding, alignment. Pure jax + numpy (no flax).

Legend: B batch, T frames, V vocabulary, U label length. Paddings, not lengths: 1.0 = pad.

Modules: loss (forward algorithm, custom VJP), greedy (best path, the -1 padded id
layout), beam_search (`prefix_beam_search`, the jitted search and its `BeamState`),
lm_search (the host search with a word LM and hotwords), lm (ARPA n-gram LM and
pyctcdecode's scoring), align (Viterbi forced alignment, batched), align_long (one long
utterance in memory O(U sqrt(T))), spans (the frames each label owns: how blanks count),
checks (input checks).
"""

from w2v2jax.ctc.align import Alignment, WordSpan, forced_align, word_spans
from w2v2jax.ctc.align_long import align_long
from w2v2jax.ctc.beam_search import BeamState, prefix_beam_search
from w2v2jax.ctc.checks import check_frames, check_labels, check_search_args
from w2v2jax.ctc.greedy import greedy_decode, left_align, to_lists
from w2v2jax.ctc.lm import ArpaLM, WordScorer
from w2v2jax.ctc.lm_search import lm_prefix_beam_search
from w2v2jax.ctc.loss import ctc_loss, ctc_loss_reduced, repeats
from w2v2jax.ctc.spans import BLANK_RULES, TokenSpan, token_spans, word_groups

__all__ = [
    "BLANK_RULES",
    "Alignment",
    "ArpaLM",
    "BeamState",
    "TokenSpan",
    "WordScorer",
    "WordSpan",
    "align_long",
    "check_frames",
    "check_labels",
    "check_search_args",
    "ctc_loss",
    "ctc_loss_reduced",
    "forced_align",
    "greedy_decode",
    "left_align",
    "lm_prefix_beam_search",
    "prefix_beam_search",
    "repeats",
    "to_lists",
    "token_spans",
    "word_groups",
    "word_spans",
]
