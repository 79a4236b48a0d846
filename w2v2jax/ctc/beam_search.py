"""CTC prefix beam search: the public `prefix_beam_search` and its jitted search.

Legend: B batch, T frames, V vocabulary (blank included), K beams, N hypotheses returned,
2 the two rolling hashes of a prefix. Outputs are left-aligned ids padded with -1
(`to_lists` turns them into python lists).

`prefix_beam_search` is the one entry point: without a language model or hotwords it runs
the jitted jax scan here; with them, the host search of lm_search.py (`lm_prefix_beam_search`)
with the same search and pyctcdecode's scoring.

The jitted search has a static beam size: per frame each of the K prefixes either stays
(blank or a repeat of its last token) or grows by one of V - 1 tokens; prefixes are
identified by a pair of rolling hashes, so a growth that recreates an existing prefix
merges into it, and backpointers rebuild the ids at the end.

With `word_delimiter_id` set, hypotheses are word sequences: a leading delimiter or one
following another adds no word (it merges into the same prefix, as pyctcdecode's
whitespace normalisation does) and a trailing delimiter is dropped at the end.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.ctc import lm as lm_lib
from w2v2jax.ctc.checks import check_frames, check_search_args
from w2v2jax.ctc.greedy import left_align
from w2v2jax.ctc.lm_search import lm_prefix_beam_search

_HASH_MULTIPLIERS = (1_000_003, 2_654_435_761)  # two 32-bit rolling hashes ~ one 64-bit


class BeamState(NamedTuple):
    """The K prefixes of the jitted search after a frame; a dead slot has both scores -inf."""

    blank_BxK: jax.Array  # log p(prefix, last frame blank)
    label_BxK: jax.Array  # log p(prefix, last frame emitted its last token)
    hash_BxKx2: jax.Array  # uint32 rolling hashes of the prefix: equal hashes, same prefix
    parent_hash_BxKx2: jax.Array  # hashes of the prefix without its last token
    last_BxK: jax.Array  # the prefix's last token, -1 for the empty prefix
    length_BxK: jax.Array  # number of tokens in the prefix


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
    alpha=lm_lib.ALPHA,
    beta=lm_lib.BETA,
    unk_score_offset=lm_lib.UNK_SCORE_OFFSET,
    hotwords=(),
    hotword_weight=lm_lib.HOTWORD_WEIGHT,
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
    if lm is not None or hotwords:
        return lm_prefix_beam_search(
            log_probs_BxTxV,
            paddings_BxT,
            beam_size=beam_size,
            vocab=vocab,
            num_best=num_best,
            blank_id=blank_id,
            word_delimiter_id=word_delimiter_id,
            lm=lm,
            alpha=alpha,
            beta=beta,
            unk_score_offset=unk_score_offset,
            hotwords=hotwords,
            hotword_weight=hotword_weight,
            token_min_logp=token_min_logp,
            prune_by=prune_by,
        )
    check_frames(log_probs_BxTxV, paddings_BxT, blank_id, name="log_probs_BxTxV")
    num_best = beam_size if num_best is None else num_best
    vocab_size = np.shape(log_probs_BxTxV)[2]
    check_search_args(vocab_size, beam_size, num_best, word_delimiter_id, prune_by)
    return _beam_search_jit(
        log_probs_BxTxV,
        paddings_BxT,
        beam_size,
        num_best,
        blank_id,
        word_delimiter_id,
        prune_by == "state",
    )


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
    scores_BxK = jnp.logaddexp(beams.blank_BxK, beams.label_BxK)
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
    return BeamState(
        blank_BxK=dead_BxK.at[:, 0].set(0.0),
        label_BxK=dead_BxK,
        hash_BxKx2=jnp.zeros((batch, beam_size, 2), jnp.uint32),
        parent_hash_BxKx2=jnp.zeros((batch, beam_size, 2), jnp.uint32),
        last_BxK=zeros_BxK - 1,
        length_BxK=zeros_BxK,
    )


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
    grows_BxKx1 = grows_BxK[..., None]

    def take(x_BxK):
        return jnp.take_along_axis(x_BxK, parent_BxK, axis=1)

    def take_hash(x_BxKx2):
        return jnp.take_along_axis(x_BxKx2, parent_BxK[..., None], axis=1)

    parent_hash_BxKx2 = take_hash(beams.hash_BxKx2)
    new = BeamState(
        blank_BxK=blank_BxK,
        label_BxK=label_BxK,
        hash_BxKx2=jnp.where(
            grows_BxKx1, _roll_hash(parent_hash_BxKx2, token_BxK), parent_hash_BxKx2
        ),
        parent_hash_BxKx2=jnp.where(
            grows_BxKx1, parent_hash_BxKx2, take_hash(beams.parent_hash_BxKx2)
        ),
        last_BxK=jnp.where(grows_BxK, token_BxK, take(beams.last_BxK)),
        length_BxK=take(beams.length_BxK) + grows_BxK,
    )
    return new, parent_BxK, jnp.where(grows_BxK, token_BxK, -1)


def _candidates(beams, log_probs_BxV, blank_id, delimiter):
    """(log p ending in blank, ending in a label) of every prefix k + v, v = blank: k itself."""
    total_BxK = jnp.logaddexp(beams.blank_BxK, beams.label_BxK)
    last_BxK = beams.last_BxK
    last_lp_BxK = jnp.take_along_axis(log_probs_BxV, jnp.maximum(last_BxK, 0), axis=1)
    stay_blank_BxK = total_BxK + log_probs_BxV[:, blank_id, None]
    stay_label_BxK = jnp.where(last_BxK >= 0, beams.label_BxK + last_lp_BxK, -jnp.inf)
    tokens_V = jnp.arange(log_probs_BxV.shape[1])
    # A repeat of the last token only grows the prefix across a blank.
    grow_BxKxV = jnp.where(
        tokens_V == last_BxK[..., None], beams.blank_BxK[..., None], total_BxK[..., None]
    )
    grow_BxKxV = grow_BxKxV + log_probs_BxV[:, None, :]
    if delimiter is not None:
        # A delimiter at the start or after a delimiter adds no word: the prefix stays, with
        # the mass of both its states (as a repeat would have from the label state only).
        absorb_BxK = (beams.length_BxK == 0) | (last_BxK == delimiter)
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
    live_BxK = jnp.logaddexp(beams.blank_BxK, beams.label_BxK) > -jnp.inf
    slots = jnp.arange(live_BxK.shape[1])
    same_BxJxK = jnp.all(beams.hash_BxKx2[:, :, None] == beams.hash_BxKx2[:, None], axis=-1)
    same_BxJxK = same_BxJxK & (slots[:, None] > slots[None, :]) & live_BxK[:, :, None]
    same_BxJxK = same_BxJxK & live_BxK[:, None, :]
    duplicate_BxJ = jnp.any(same_BxJxK, axis=2)

    def fold(score_BxK):
        folded_BxK = jax.nn.logsumexp(jnp.where(same_BxJxK, score_BxK[:, :, None], -jnp.inf), 1)
        return jnp.where(duplicate_BxJ, -jnp.inf, jnp.logaddexp(score_BxK, folded_BxK))

    return beams._replace(blank_BxK=fold(beams.blank_BxK), label_BxK=fold(beams.label_BxK))


def _merge_regrown(beams, total_BxK, stay_label_BxK, grow_BxKxV):
    """Prefix k + v that is already beam j: add its mass to j, drop the duplicate."""
    live_BxK = total_BxK > -jnp.inf
    # same_BxJxK: beam j is beam k grown by j's last token.
    same_BxJxK = jnp.all(beams.parent_hash_BxKx2[:, :, None] == beams.hash_BxKx2[:, None], axis=-1)
    grown_j_BxJ = live_BxK & (beams.length_BxK > 0)  # dead slots may share hashes: skip them
    same_BxJxK = same_BxJxK & live_BxK[:, None, :] & grown_j_BxJ[:, :, None]
    last_BxJ = jnp.maximum(beams.last_BxK, 0)
    grown_BxKxJ = jnp.take_along_axis(grow_BxKxV, last_BxJ[:, None, :], axis=2)
    grown_BxJxK = jnp.where(same_BxJxK, jnp.swapaxes(grown_BxKxJ, 1, 2), -jnp.inf)
    stay_label_BxK = jnp.logaddexp(stay_label_BxK, jax.nn.logsumexp(grown_BxJxK, axis=2))
    one_hot_BxJxV = jax.nn.one_hot(last_BxJ, grow_BxKxV.shape[2])
    taken_BxKxV = jnp.einsum("bjk,bjv->bkv", same_BxJxK.astype(jnp.float32), one_hot_BxJxV) > 0
    return stay_label_BxK, jnp.where(taken_BxKxV, -jnp.inf, grow_BxKxV)


def _merge_trailing_delimiter(beams, scores_BxK, delimiter):
    """'a b|' and 'a b' are one transcript: fold the first into the second when both exist."""
    trailing_BxK = (beams.last_BxK == delimiter) & (beams.length_BxK > 0)
    same_BxJxK = jnp.all(beams.parent_hash_BxKx2[:, :, None] == beams.hash_BxKx2[:, None], axis=-1)
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
    return left_align(jnp.transpose(tokens_TxBxN, (1, 2, 0)))


def _drop_trailing(ids_BxNxT, delimiter):
    count_BxN = jnp.sum(ids_BxNxT >= 0, axis=-1)
    last_BxNx1 = jnp.maximum(count_BxN - 1, 0)[..., None]
    is_last = jnp.arange(ids_BxNxT.shape[-1]) == last_BxNx1
    return jnp.where(is_last & (ids_BxNxT == delimiter), -1, ids_BxNxT)
