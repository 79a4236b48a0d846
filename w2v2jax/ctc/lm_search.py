"""CTC prefix beam search on the host (numpy + python), with a word n-gram LM and hotwords.

Legend: B batch, T frames, V vocabulary (blank included), N hypotheses returned.

`prefix_beam_search` (beam_search.py) sends a call here when it has an LM or hotwords; the
search is the same as the jitted one there (same merging of prefixes, same pruning by
state or by prefix, same word delimiter rules), with pyctcdecode's scoring (see lm.py)
added as words complete. Prefixes are python tuples of ids, so an LM score is computed once
per prefix and cached.
"""

import heapq
import math

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc import lm as lm_lib
from w2v2jax.ctc.checks import check_frames, check_search_args


def lm_prefix_beam_search(
    log_probs_BxTxV,
    paddings_BxT,
    *,
    beam_size,
    vocab,
    num_best=None,
    blank_id=0,
    word_delimiter_id=None,
    lm=None,
    alpha=lm_lib.ALPHA,
    beta=lm_lib.BETA,
    unk_score_offset=lm_lib.UNK_SCORE_OFFSET,
    hotwords=(),
    hotword_weight=lm_lib.HOTWORD_WEIGHT,
    token_min_logp=None,
    prune_by="state",
):
    """`prefix_beam_search` with an LM and/or hotwords, on the host; the same arguments.

    Returns:
      ids_BxNxT: [B, N, T] int32 numpy ids, left-aligned, -1 padded.
      scores_BxN: [B, N] float32, log p_ctc + LM and hotword terms.
    """
    check_frames(log_probs_BxTxV, paddings_BxT, blank_id, name="log_probs_BxTxV")
    vocab_size = np.shape(log_probs_BxTxV)[2]
    num_best = beam_size if num_best is None else num_best
    check_search_args(vocab_size, beam_size, num_best, word_delimiter_id, prune_by)
    if vocab is None or len(vocab) != vocab_size:
        raise ValueError(
            f"vocab must list the {vocab_size} token strings (id -> text) when an LM or hotwords "
            f"are used; got {None if vocab is None else len(vocab)} entries."
        )
    if lm is not None and word_delimiter_id is None:
        raise ValueError("A word LM needs word_delimiter_id: the token that separates words.")
    lm = lm_lib.ArpaLM.from_file(lm) if isinstance(lm, str) else lm
    scorer = lm_lib.WordScorer(
        lm,
        alpha=alpha,
        beta=beta,
        unk_score_offset=unk_score_offset,
        hotwords=hotwords,
        hotword_weight=hotword_weight,
    )
    by_state = prune_by == "state"
    search = _HostSearch(
        scorer, vocab, beam_size, blank_id, word_delimiter_id, token_min_logp, by_state
    )
    return search.run(log_probs_BxTxV, paddings_BxT, num_best)


def _logaddexp(a, b):
    """Scalar logaddexp (numpy's costs a microsecond per call on python floats)."""
    high, low = (a, b) if a >= b else (b, a)
    return high if low == -math.inf else high + math.log1p(math.exp(low - high))


class _HostSearch:
    """The same prefix search in python, scoring words as they complete."""

    def __init__(self, scorer, vocab, beam_size, blank_id, delimiter, token_min_logp, by_state):
        self.scorer, self.vocab, self.beam_size = scorer, list(vocab), beam_size
        self.blank_id, self.delimiter, self.token_min_logp = blank_id, delimiter, token_min_logp
        self.by_state = by_state
        self.lm_cache = {(): (0.0, scorer.start(), "")}  # prefix -> (words score, history, part)

    def run(self, log_probs_BxTxV, paddings_BxT, num_best):
        log_probs_BxTxV = np.asarray(jax.nn.log_softmax(jnp.asarray(log_probs_BxTxV), axis=-1))
        frames_B = np.sum(np.asarray(paddings_BxT) < 0.5, axis=1)
        results = [
            self.decode(log_probs_BxTxV[b][np.asarray(paddings_BxT)[b] < 0.5], num_best)
            for b in range(len(frames_B))
        ]
        ids_BxNxT = np.full((len(results), num_best, log_probs_BxTxV.shape[1]), -1, np.int32)
        scores_BxN = np.full((len(results), num_best), -np.inf, np.float32)
        for b, hypotheses in enumerate(results):
            for n, (score, prefix) in enumerate(hypotheses):
                ids_BxNxT[b, n, : len(prefix)] = prefix
                scores_BxN[b, n] = score
        return ids_BxNxT, scores_BxN

    def lm_score(self, prefix):
        """(completed words score, LM history, partial word) of a prefix, cached."""
        if prefix not in self.lm_cache:
            words_score, history, part = self.lm_score(prefix[:-1])
            token = prefix[-1]
            if token == self.delimiter:
                if part:
                    score, history = self.scorer.word(history, part)
                    words_score += score
                part = ""
            else:
                part += self.vocab[token]
            self.lm_cache[prefix] = (words_score, history, part)
        return self.lm_cache[prefix]

    def total(self, prefix, ctc_score):
        words_score, _, part = self.lm_score(prefix)
        return ctc_score + words_score + self.scorer.partial(part)

    def decode(self, log_probs_TxV, num_best):
        beams = {(): (0.0, -math.inf)}  # prefix -> (log p ended in blank, ended in label)
        for log_probs_V in log_probs_TxV:
            beams = self.prune(self.extend(beams, log_probs_V))
        finals = {}
        for prefix, (blank, label) in beams.items():
            stripped = prefix[:-1] if prefix and prefix[-1] == self.delimiter else prefix
            finals[stripped] = _logaddexp(finals.get(stripped, -math.inf), _logaddexp(blank, label))
        scored = [(self.final_score(p, ctc), p) for p, ctc in finals.items()]
        return heapq.nlargest(num_best, scored)

    def final_score(self, prefix, ctc_score):
        words_score, history, part = self.lm_score(prefix)
        if part:
            score, _ = self.scorer.word(history, part, is_last=True)
            return ctc_score + words_score + score
        return ctc_score + words_score + self.scorer.end(history)

    def extend(self, beams, log_probs_V):
        candidates = {}

        def add(prefix, blank, label):
            old_blank, old_label = candidates.get(prefix, (-math.inf, -math.inf))
            candidates[prefix] = (_logaddexp(old_blank, blank), _logaddexp(old_label, label))

        tokens = np.arange(len(log_probs_V))
        if self.token_min_logp is not None:
            keep = (log_probs_V >= self.token_min_logp) | (tokens == np.argmax(log_probs_V))
            tokens = tokens[keep]
        tokens = [int(v) for v in tokens if v != self.blank_id]
        for prefix, (blank, label) in beams.items():
            total = _logaddexp(blank, label)
            last = prefix[-1] if prefix else None
            add(prefix, total + log_probs_V[self.blank_id], -math.inf)
            absorb = self.delimiter is not None and last in (None, self.delimiter)
            if absorb:  # as in the jax search: the delimiter adds no word here
                add(prefix, -math.inf, total + log_probs_V[self.delimiter])
            elif last is not None:
                add(prefix, -math.inf, label + log_probs_V[last])
            for v in tokens:
                if not (absorb and v == self.delimiter):
                    grown = (blank if v == last else total) + log_probs_V[v]
                    add((*prefix, v), -math.inf, grown)
        return candidates

    def prune(self, candidates):
        if not self.by_state:
            scored = [
                (self.total(p, _logaddexp(*state)), p, state) for p, state in candidates.items()
            ]
            return {p: state for _, p, state in heapq.nlargest(self.beam_size, scored)}
        scored = [
            (self.total(p, score), p, which)
            for p, state in candidates.items()
            for which, score in enumerate(state)
            if score > -math.inf
        ]
        kept = {}
        for _, p, which in heapq.nlargest(self.beam_size, scored):
            state = list(kept.get(p, (-math.inf, -math.inf)))
            state[which] = candidates[p][which]
            kept[p] = tuple(state)
        return kept
