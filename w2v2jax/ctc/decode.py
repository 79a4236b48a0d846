"""CTC decoding: greedy (best path) and prefix beam search, ids in, ids out.

Legend: B batch, T frames, V vocabulary (blank included), K beams, N hypotheses returned.
Outputs are left-aligned ids padded with -1 (`to_lists` turns them into python lists).

The beam search without a language model is a jitted jax scan with a static beam size:
per frame each of the K prefixes either stays (blank or a repeat of its last token) or
grows by one of V - 1 tokens; prefixes are identified by a pair of rolling hashes, so a
growth that recreates an existing prefix merges into it, and backpointers rebuild the ids
at the end. With a word n-gram LM or hotwords it runs on the host (numpy + python) with
the same search and pyctcdecode's scoring (see lm.py).

With `word_delimiter_id` set, hypotheses are word sequences: a leading delimiter or one
following another adds no word (it merges into the same prefix, as pyctcdecode's
whitespace normalisation does) and a trailing delimiter is dropped at the end.
"""

import functools
import heapq
import math

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc import lm as lm_lib
from w2v2jax.ctc.loss import check_frames

_HASH_MULTIPLIERS = (1_000_003, 2_654_435_761)  # two 32-bit rolling hashes ~ one 64-bit


def greedy_decode(logits_BxTxV, paddings_BxT, blank_id=0):
    """Best path: argmax per frame, repeats collapsed, blanks and padded frames dropped.

    Returns:
      ids_BxT: [B, T] int32, the ids left-aligned and padded with -1.
    """
    check_frames(logits_BxTxV, paddings_BxT, blank_id)
    return _greedy(logits_BxTxV, paddings_BxT, blank_id)


@functools.partial(jax.jit, static_argnums=2)
def _greedy(logits_BxTxV, paddings_BxT, blank_id):
    best_BxT = jnp.argmax(logits_BxTxV, axis=-1).astype(jnp.int32)
    best_BxT = jnp.where(paddings_BxT > 0.5, blank_id, best_BxT)
    # A roll, not pad(best[:, :-1]): with the padding mask above, the pad made XLA's SPMD
    # partitioner take minutes to compile an eval step on a batch-sharded 8-device mesh.
    first_T = jnp.arange(best_BxT.shape[1]) == 0
    previous_BxT = jnp.where(first_T, blank_id, jnp.roll(best_BxT, 1, axis=1))
    keep_BxT = (best_BxT != blank_id) & (best_BxT != previous_BxT)
    return _left_align(jnp.where(keep_BxT, best_BxT, -1))


def _left_align(ids_BxT):
    """Moves the non-negative entries of each row to the front, in order; -1 after them."""
    keep_BxT = ids_BxT >= 0
    position_BxT = jnp.where(keep_BxT, jnp.cumsum(keep_BxT, axis=-1) - 1, ids_BxT.shape[-1])
    out_BxT = jnp.full(ids_BxT.shape, -1, jnp.int32)
    rows = jnp.indices(ids_BxT.shape[:-1])
    index = (*(r[..., None] for r in rows), position_BxT)
    return out_BxT.at[index].set(ids_BxT, mode="drop")


def to_lists(ids):
    """[B, T] or [B, N, T] ids padded with -1 -> nested python lists of ints."""
    ids = np.asarray(ids)
    if ids.ndim == 1:
        return [int(i) for i in ids if i >= 0]
    return [to_lists(row) for row in ids]


def prefix_beam_search(
    log_probs_BxTxV,
    paddings_BxT,
    *,
    beam_size,
    num_best=None,
    blank_id=0,
    word_delimiter_id=None,
    lm=None,
    vocab=None,
    alpha=0.5,
    beta=1.5,
    unk_score_offset=-10.0,
    hotwords=(),
    hotword_weight=10.0,
    token_min_logp=None,
    prune_by="state",
):
    """CTC prefix beam search, optionally with a word n-gram LM and hotword boosts.

    Args:
      log_probs_BxTxV: [B, T, V] log-probabilities (logits work too: log_softmax is applied).
      paddings_BxT: [B, T], 1.0 marks padded frames.
      beam_size: K, prefixes kept per frame (static).
      num_best: N <= K hypotheses returned, best first (default K).
      blank_id: the blank token.
      word_delimiter_id: token separating words (e.g. the id of "|" or " "); needed for LM.
      lm: an `ArpaLM` or the path of an ARPA file; runs the host search.
      vocab: V strings, id -> text, required with `lm` or `hotwords`.
      alpha, beta, unk_score_offset: LM weight, per-word bonus, unknown-word log10 offset,
        as pyctcdecode: score = log p_ctc + alpha * ln(10) * log10 p_lm + beta * words.
      hotwords, hotword_weight: words (or phrases) boosted by hotword_weight each.
      token_min_logp: host search only: skip tokens below this log-prob (not the frame's best).
      prune_by: "state" (default) keeps the K best (prefix, ended in blank?) pairs, as
        pyctcdecode does, so both states of a prefix can take two slots; "prefix" keeps the
        K prefixes with the highest p(ended in blank) + p(ended in a label) (Hannun et al.).

    Returns:
      ids_BxNxT: [B, N, T] int32 ids, left-aligned, -1 padded.
      scores_BxN: [B, N] float32, log p_ctc of the prefix (+ LM and hotword terms if used).
    """
    check_frames(log_probs_BxTxV, paddings_BxT, blank_id, name="log_probs_BxTxV")
    if prune_by not in ("prefix", "state"):
        raise ValueError(f'prune_by must be "prefix" or "state", got {prune_by!r}.')
    by_state = prune_by == "state"
    vocab_size = np.shape(log_probs_BxTxV)[2]
    num_best = beam_size if num_best is None else num_best
    if not 1 <= num_best <= beam_size:
        raise ValueError(f"num_best={num_best} must be between 1 and beam_size={beam_size}.")
    if word_delimiter_id is not None and not 0 <= word_delimiter_id < vocab_size:
        raise ValueError(f"word_delimiter_id={word_delimiter_id} is outside [0, {vocab_size}).")
    if lm is None and not hotwords:
        return _beam_search_jit(
            log_probs_BxTxV,
            paddings_BxT,
            beam_size,
            num_best,
            blank_id,
            word_delimiter_id,
            by_state,
        )
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
    search = _HostSearch(
        scorer, vocab, beam_size, blank_id, word_delimiter_id, token_min_logp, by_state
    )
    return search.run(log_probs_BxTxV, paddings_BxT, num_best)


# --- jax search (no LM) ---------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _beam_search_jit(
    log_probs_BxTxV, paddings_BxT, beam_size, num_best, blank_id, delimiter, by_state
):
    log_probs_TxBxV = jnp.transpose(jax.nn.log_softmax(log_probs_BxTxV, axis=-1), (1, 0, 2))
    valid_TxB = jnp.transpose(paddings_BxT) < 0.5
    batch = log_probs_TxBxV.shape[1]
    beams = _initial_beams(batch, beam_size)

    def step(beams, frame):
        log_probs_BxV, valid_B = frame
        new, parent_BxK, token_BxK = _expand(beams, log_probs_BxV, blank_id, delimiter, by_state)
        keep_Bx1 = valid_B[:, None]

        def keep(n, o):
            return jnp.where(valid_B.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)

        beams = jax.tree.map(keep, new, beams)
        parent_BxK = jnp.where(keep_Bx1, parent_BxK, jnp.arange(beam_size)[None])
        return beams, (parent_BxK, jnp.where(keep_Bx1, token_BxK, -1))

    beams, (parents_TxBxK, tokens_TxBxK) = jax.lax.scan(step, beams, (log_probs_TxBxV, valid_TxB))
    beams = _merge_same_prefix(beams) if by_state else beams
    scores_BxK = jnp.logaddexp(beams["blank"], beams["label"])
    if delimiter is not None:
        scores_BxK = _merge_trailing_delimiter(beams, scores_BxK, delimiter)
    scores_BxN, order_BxN = jax.lax.top_k(scores_BxK, num_best)
    ids_BxNxT = _trace_back(parents_TxBxK, tokens_TxBxK, order_BxN)
    if delimiter is not None:
        ids_BxNxT = _drop_trailing(ids_BxNxT, delimiter)
    # Fewer than N distinct hypotheses: the rest are empty with score -inf.
    return jnp.where(scores_BxN[..., None] > -jnp.inf, ids_BxNxT, -1), scores_BxN


def _initial_beams(batch, beam_size):
    """One live beam (the empty prefix, all mass on 'ended in blank'); the rest are dead."""
    dead_BxK = jnp.full((batch, beam_size), -jnp.inf)
    zeros_BxK = jnp.zeros((batch, beam_size), jnp.int32)
    return {
        "blank": dead_BxK.at[:, 0].set(0.0),  # log p(prefix, last frame blank)
        "label": dead_BxK,  # log p(prefix, last frame emitted its last token)
        "hash": jnp.zeros((batch, beam_size, 2), jnp.uint32),
        "parent_hash": jnp.zeros((batch, beam_size, 2), jnp.uint32),
        "last": zeros_BxK - 1,
        "length": zeros_BxK,
    }


def _roll_hash(hash_Nx2, token_N):
    multipliers = jnp.asarray(_HASH_MULTIPLIERS, jnp.uint32)
    return hash_Nx2 * multipliers + (token_N.astype(jnp.uint32) + 1)[..., None]


def _expand(beams, log_probs_BxV, blank_id, delimiter, by_state):
    """One frame: K x V candidates (column blank = the prefix unchanged), merged, top K."""
    if by_state:
        beams = _merge_same_prefix(beams)
    blank_BxKxV, label_BxKxV = _candidates(beams, log_probs_BxV, blank_id, delimiter)
    batch, beam_size, vocab = blank_BxKxV.shape
    if by_state:  # pyctcdecode: each (prefix, ended in blank?) competes on its own
        score_BxC = jnp.concatenate(
            [blank_BxKxV.reshape(batch, -1), label_BxKxV.reshape(batch, -1)], axis=1
        )
        score_BxK, pick_BxK = jax.lax.top_k(score_BxC, beam_size)
        is_blank_BxK = pick_BxK < beam_size * vocab
        pick_BxK = pick_BxK % (beam_size * vocab)
        blank_BxK = jnp.where(is_blank_BxK, score_BxK, -jnp.inf)
        label_BxK = jnp.where(is_blank_BxK, -jnp.inf, score_BxK)
    else:  # prefixes compete with both states summed
        score_BxKV = jnp.logaddexp(blank_BxKxV, label_BxKxV).reshape(batch, -1)
        _, pick_BxK = jax.lax.top_k(score_BxKV, beam_size)
        blank_BxK = jnp.take_along_axis(blank_BxKxV.reshape(batch, -1), pick_BxK, axis=1)
        label_BxK = jnp.take_along_axis(label_BxKxV.reshape(batch, -1), pick_BxK, axis=1)
    parent_BxK, token_BxK = pick_BxK // vocab, pick_BxK % vocab
    grows_BxK = token_BxK != blank_id

    def take(x_BxK):
        return jnp.take_along_axis(x_BxK, parent_BxK, axis=1)

    parent_hash = jnp.take_along_axis(beams["hash"], parent_BxK[..., None], axis=1)
    new = {
        "blank": blank_BxK,
        "label": label_BxK,
        "hash": jnp.where(grows_BxK[..., None], _roll_hash(parent_hash, token_BxK), parent_hash),
        "parent_hash": jnp.where(
            grows_BxK[..., None],
            parent_hash,
            jnp.take_along_axis(beams["parent_hash"], parent_BxK[..., None], axis=1),
        ),
        "last": jnp.where(grows_BxK, token_BxK, take(beams["last"])),
        "length": take(beams["length"]) + grows_BxK,
    }
    return new, parent_BxK, jnp.where(grows_BxK, token_BxK, -1)


def _candidates(beams, log_probs_BxV, blank_id, delimiter):
    """(log p ending in blank, ending in a label) of every prefix k + v, v = blank: k itself."""
    total_BxK = jnp.logaddexp(beams["blank"], beams["label"])
    last_BxK = beams["last"]
    last_lp_BxK = jnp.take_along_axis(log_probs_BxV, jnp.maximum(last_BxK, 0), axis=1)
    stay_blank_BxK = total_BxK + log_probs_BxV[:, blank_id, None]
    stay_label_BxK = jnp.where(last_BxK >= 0, beams["label"] + last_lp_BxK, -jnp.inf)
    tokens_V = jnp.arange(log_probs_BxV.shape[1])
    # A repeat of the last token only grows the prefix across a blank.
    grow_BxKxV = jnp.where(
        tokens_V == last_BxK[..., None], beams["blank"][..., None], total_BxK[..., None]
    )
    grow_BxKxV = grow_BxKxV + log_probs_BxV[:, None, :]
    if delimiter is not None:
        # A delimiter at the start or after a delimiter adds no word: the prefix stays, with
        # the mass of both its states (as a repeat would have from the label state only).
        absorb_BxK = (beams["length"] == 0) | (last_BxK == delimiter)
        absorbed_BxK = total_BxK + log_probs_BxV[:, delimiter, None]
        stay_label_BxK = jnp.where(absorb_BxK, absorbed_BxK, stay_label_BxK)
        grow_BxKxV = grow_BxKxV.at[:, :, delimiter].set(
            jnp.where(absorb_BxK, -jnp.inf, grow_BxKxV[:, :, delimiter])
        )
    stay_label_BxK, grow_BxKxV = _merge_regrown(beams, total_BxK, stay_label_BxK, grow_BxKxV)
    blank_BxKxV = jnp.full_like(grow_BxKxV, -jnp.inf).at[:, :, blank_id].set(stay_blank_BxK)
    return blank_BxKxV, grow_BxKxV.at[:, :, blank_id].set(stay_label_BxK)


def _merge_same_prefix(beams):
    """Pruning by state can keep one prefix in two slots: fold the later slot into the first."""
    live_BxK = jnp.logaddexp(beams["blank"], beams["label"]) > -jnp.inf
    slots = jnp.arange(live_BxK.shape[1])
    same_BxJxK = jnp.all(beams["hash"][:, :, None] == beams["hash"][:, None], axis=-1)
    same_BxJxK = same_BxJxK & (slots[:, None] > slots[None, :]) & live_BxK[:, :, None]
    same_BxJxK = same_BxJxK & live_BxK[:, None, :]
    merged = dict(beams)
    for state in ("blank", "label"):
        folded_BxK = jax.nn.logsumexp(jnp.where(same_BxJxK, beams[state][:, :, None], -jnp.inf), 1)
        merged[state] = jnp.where(
            jnp.any(same_BxJxK, axis=2), -jnp.inf, jnp.logaddexp(beams[state], folded_BxK)
        )
    return merged


def _merge_regrown(beams, total_BxK, stay_label_BxK, grow_BxKxV):
    """Prefix k + v that is already beam j: add its mass to j, drop the duplicate."""
    live_BxK = total_BxK > -jnp.inf
    # same_BxJxK: beam j is beam k grown by j's last token.
    same_BxJxK = jnp.all(beams["parent_hash"][:, :, None] == beams["hash"][:, None], axis=-1)
    grown_j_BxJ = live_BxK & (beams["length"] > 0)  # dead slots may share hashes: skip them
    same_BxJxK = same_BxJxK & live_BxK[:, None, :] & grown_j_BxJ[:, :, None]
    last_BxJ = jnp.maximum(beams["last"], 0)
    grown_BxKxJ = jnp.take_along_axis(grow_BxKxV, last_BxJ[:, None, :], axis=2)
    grown_BxJxK = jnp.where(same_BxJxK, jnp.swapaxes(grown_BxKxJ, 1, 2), -jnp.inf)
    stay_label_BxK = jnp.logaddexp(stay_label_BxK, jax.nn.logsumexp(grown_BxJxK, axis=2))
    one_hot_BxJxV = jax.nn.one_hot(last_BxJ, grow_BxKxV.shape[2])
    taken_BxKxV = jnp.einsum("bjk,bjv->bkv", same_BxJxK.astype(jnp.float32), one_hot_BxJxV) > 0
    return stay_label_BxK, jnp.where(taken_BxKxV, -jnp.inf, grow_BxKxV)


def _merge_trailing_delimiter(beams, scores_BxK, delimiter):
    """'a b|' and 'a b' are one transcript: fold the first into the second when both exist."""
    trailing_BxK = (beams["last"] == delimiter) & (beams["length"] > 0)
    same_BxJxK = jnp.all(beams["parent_hash"][:, :, None] == beams["hash"][:, None], axis=-1)
    live_BxK = scores_BxK > -jnp.inf
    same_BxJxK = same_BxJxK & (trailing_BxK & live_BxK)[:, :, None] & live_BxK[:, None]
    folded_BxK = jax.nn.logsumexp(jnp.where(same_BxJxK, scores_BxK[:, :, None], -jnp.inf), axis=1)
    scores_BxK = jnp.logaddexp(scores_BxK, folded_BxK)
    return jnp.where(jnp.any(same_BxJxK, axis=2), -jnp.inf, scores_BxK)


def _trace_back(parents_TxBxK, tokens_TxBxK, order_BxN):
    """Follows the backpointers from the final beams; returns left-aligned ids."""

    def step(position_BxN, frame):
        parent_BxK, token_BxK = frame
        token_BxN = jnp.take_along_axis(token_BxK, position_BxN, axis=1)
        return jnp.take_along_axis(parent_BxK, position_BxN, axis=1), token_BxN

    _, tokens_TxBxN = jax.lax.scan(step, order_BxN, (parents_TxBxK, tokens_TxBxK), reverse=True)
    return _left_align(jnp.transpose(tokens_TxBxN, (1, 2, 0)))


def _drop_trailing(ids_BxNxT, delimiter):
    count_BxN = jnp.sum(ids_BxNxT >= 0, axis=-1)
    last_BxNx1 = jnp.maximum(count_BxN - 1, 0)[..., None]
    is_last = jnp.arange(ids_BxNxT.shape[-1]) == last_BxNx1
    return jnp.where(is_last & (ids_BxNxT == delimiter), -1, ids_BxNxT)


# --- host search (word LM, hotwords) --------------------------------------------------------


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
