"""The host prefix beam search: equal to the jitted one without LM terms; an ARPA LM and
hotwords change its best hypothesis.

Legend: B batch, T frames, V vocabulary, N hypotheses.
"""

import numpy as np
from ctc_helpers import ARPA, VOCAB, comparison_batch

from w2v2jax.ctc import prefix_beam_search, to_lists

LM_VOCAB = ["", " ", "t", "h", "e", "c", "a"]


def test_host_search_equals_jax_search_without_lm_terms():
    log_probs = comparison_batch()
    paddings = np.zeros(log_probs.shape[:2])
    ids, scores = prefix_beam_search(log_probs, paddings, beam_size=8, word_delimiter_id=1)
    host_ids, host_scores = prefix_beam_search(
        log_probs,
        paddings,
        beam_size=8,
        word_delimiter_id=1,
        vocab=VOCAB,
        hotwords=["zzz"],
        hotword_weight=0.0,
    )
    assert to_lists(ids) == to_lists(host_ids)
    np.testing.assert_allclose(scores, host_scores, rtol=1e-5)


def spelled(chars, doubt):
    """Log-probs spelling `chars` (one frame each, blanks between); `doubt` maps a frame to
    the probabilities of two competing characters."""
    rows = []
    for i, char in enumerate(chars):
        row = np.full(len(LM_VOCAB), 1e-3)
        for c, p in doubt.get(i, {char: 0.97}).items():
            row[LM_VOCAB.index(c)] = p
        rows += [row, np.eye(len(LM_VOCAB))[0] * 0.97 + 1e-3]
    return np.log(np.stack(rows) / np.stack(rows).sum(1, keepdims=True))[None]


def lm_text(ids):
    return "".join(LM_VOCAB[i] for i in ids)


def test_arpa_lm_changes_the_best_hypothesis(tmp_path):
    path = tmp_path / "tiny.arpa"
    path.write_text(ARPA)
    log_probs = spelled("thc cat", {2: {"c": 0.55, "e": 0.43}})
    paddings = np.zeros(log_probs.shape[:2])
    acoustic, _ = prefix_beam_search(log_probs, paddings, beam_size=8, word_delimiter_id=1)
    with_lm, scores = prefix_beam_search(
        log_probs,
        paddings,
        beam_size=8,
        word_delimiter_id=1,
        lm=str(path),
        vocab=LM_VOCAB,
        alpha=0.5,
        beta=1.5,
    )
    assert lm_text(to_lists(acoustic)[0][0]) == "thc cat"
    assert lm_text(to_lists(with_lm)[0][0]) == "the cat"
    assert scores[0, 0] > scores[0, 1]


def test_hotword_boost_changes_the_best_hypothesis():
    log_probs = spelled("the cat", {2: {"e": 0.55, "c": 0.43}})
    paddings = np.zeros(log_probs.shape[:2])
    plain, _ = prefix_beam_search(
        log_probs, paddings, beam_size=8, word_delimiter_id=1, vocab=LM_VOCAB, hotwords=["zz"]
    )
    boosted, _ = prefix_beam_search(
        log_probs, paddings, beam_size=8, word_delimiter_id=1, vocab=LM_VOCAB, hotwords=["thc"]
    )
    assert lm_text(to_lists(plain)[0][0]) == "the cat"
    assert lm_text(to_lists(boosted)[0][0]) == "thc cat"
