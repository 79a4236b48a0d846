"""Greedy and prefix beam search decoding, against pyctcdecode, brute force, and an ARPA LM.

Legend: B batch, T frames, V vocabulary, N hypotheses.
"""

import itertools
import logging
import math

import jax
import numpy as np
import pytest
from pyctcdecode import build_ctcdecoder

from w2v2jax.ctc import ArpaLM, greedy_decode, prefix_beam_search, to_lists
from w2v2jax.ctc.lm import WordScorer

logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # it warns that kenlm is absent
VOCAB = ["", " ", "a", "b", "c", "d", "e", "f"]  # blank 0, word delimiter 1


def log_softmax(x):
    return np.asarray(jax.nn.log_softmax(np.asarray(x, np.float64), axis=-1))


def posteriors(rng, frames, peak):
    """Model-like log-probs: a random path lifted by `peak` over unit normal noise."""
    path = rng.integers(0, len(VOCAB), frames)
    path[rng.random(frames) < 0.4] = 0
    logits = rng.normal(size=(frames, len(VOCAB)))
    logits[np.arange(frames), path] += peak
    return log_softmax(logits)


def text(ids):
    return " ".join("".join(VOCAB[i] for i in ids).split())


def collapse(path, blank=0):
    return [int(p) for i, p in enumerate(path) if p != blank and (i == 0 or p != path[i - 1])]


def test_greedy_collapses_repeats_drops_blanks_and_padding():
    best_BxT = np.array([[0, 2, 2, 0, 2, 3, 3, 1, 0], [4, 4, 0, 0, 5, 5, 5, 6, 6]])
    logits = np.eye(len(VOCAB))[best_BxT] * 5.0
    paddings = np.zeros(best_BxT.shape)
    paddings[1, 6:] = 1.0
    ids_BxT = greedy_decode(logits, paddings)
    assert ids_BxT.shape == best_BxT.shape
    assert to_lists(ids_BxT) == [[2, 2, 3, 1], [4, 5]]


def test_greedy_matches_a_numpy_reference_on_random_batches():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 40, 6))
    frames_B = np.array([40, 33, 1, 0, 17])
    paddings = (np.arange(40)[None] >= frames_B[:, None]).astype(np.float32)
    got = to_lists(greedy_decode(logits, paddings, blank_id=2))
    for b in range(5):
        assert got[b] == collapse(np.argmax(logits[b, : frames_B[b]], -1), blank=2)


# One batch holds every case so the search compiles once: rows 0-3 peaked, 4-9 soft.
PEAKS = [4.0] * 4 + [2.0, 2.0, 1.0, 1.0, 0.0, 0.0]


def comparison_batch(frames=30):
    rng = np.random.default_rng(0)
    return np.stack([posteriors(rng, frames, peak) for peak in PEAKS])


@pytest.mark.parametrize("beam_size", [4, 8])
def test_beam_search_matches_pyctcdecode_on_peaked_and_soft_posteriors(beam_size):
    log_probs_BxTxV = comparison_batch()
    decoder = build_ctcdecoder(VOCAB)
    ids, scores = prefix_beam_search(
        log_probs_BxTxV,
        np.zeros(log_probs_BxTxV.shape[:2]),
        beam_size=beam_size,
        word_delimiter_id=1,
    )
    for b, hypotheses in enumerate(to_lists(ids)):
        # No pruning on their side: same beam width, every token considered.
        beams = decoder.decode_beams(
            log_probs_BxTxV[b], beam_width=beam_size, beam_prune_logp=-1e9, token_min_logp=-1e9
        )
        assert text(hypotheses[0]) == beams[0][0], f"row {b} (peak {PEAKS[b]})"
        np.testing.assert_allclose(scores[b, 0], beams[0][3], rtol=1e-5)


def brute_force_best(log_probs_TxV, blank=0):
    """The label sequence with the highest CTC probability, by enumerating every path."""
    totals = {}
    for path in itertools.product(range(log_probs_TxV.shape[1]), repeat=len(log_probs_TxV)):
        labels = tuple(collapse(path, blank))
        score = log_probs_TxV[np.arange(len(path)), path].sum()
        totals[labels] = np.logaddexp(totals.get(labels, -np.inf), score)
    return max(totals.items(), key=lambda item: item[1])


@pytest.mark.parametrize("prune_by", ["prefix", "state"])
def test_a_beam_wide_enough_is_exact(prune_by):
    rng = np.random.default_rng(1)
    log_probs_BxTxV = np.stack([log_softmax(rng.normal(size=(6, 3))) for _ in range(4)])
    ids, scores = prefix_beam_search(
        log_probs_BxTxV.astype(np.float32),
        np.zeros((4, 6)),
        beam_size=128,
        num_best=1,
        prune_by=prune_by,
    )
    for b in range(4):
        labels, score = brute_force_best(log_probs_BxTxV[b])
        assert tuple(to_lists(ids)[b][0]) == labels
        np.testing.assert_allclose(scores[b, 0], score, rtol=1e-5)


def test_padded_frames_are_ignored():
    log_probs = comparison_batch()
    paddings = np.zeros(log_probs.shape[:2])
    paddings[4, 18:] = 1.0  # a soft row, cut to 18 frames
    ids, scores = prefix_beam_search(log_probs, paddings, beam_size=4, word_delimiter_id=1)
    trimmed = build_ctcdecoder(VOCAB).decode_beams(
        log_probs[4, :18], beam_width=4, beam_prune_logp=-1e9, token_min_logp=-1e9
    )
    assert text(to_lists(ids)[4][0]) == trimmed[0][0]
    np.testing.assert_allclose(scores[4, 0], trimmed[0][3], rtol=1e-5)


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


def test_the_search_is_jittable():
    log_probs = comparison_batch()
    paddings = np.zeros(log_probs.shape[:2])

    @jax.jit
    def decode(x):
        return prefix_beam_search(x, paddings, beam_size=4, word_delimiter_id=1)

    jitted_ids, _ = decode(log_probs)
    ids, _ = prefix_beam_search(log_probs, paddings, beam_size=4, word_delimiter_id=1)
    assert to_lists(jitted_ids) == to_lists(ids)


LM_VOCAB = ["", " ", "t", "h", "e", "c", "a"]
ARPA = """
\\data\\
ngram 1=5
ngram 2=2

\\1-grams:
-1.0\t<s>\t-0.3
-1.0\t</s>
-0.5\tthe\t-0.2
-0.7\tcat\t-0.1
-2.0\t<unk>

\\2-grams:
-0.1\t<s> the
-0.2\tthe cat

\\end\\
"""


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


def test_arpa_back_off_and_pyctcdecode_weighting(tmp_path):
    path = tmp_path / "tiny.arpa"
    path.write_text(ARPA)
    lm = ArpaLM.from_file(str(path))
    assert lm.order == 2 and lm.words == {"the", "cat"}
    assert lm.log10_prob(("<s>",), "the") == pytest.approx(-0.1)
    assert lm.log10_prob(("cat",), "the") == pytest.approx(-0.1 - 0.5)  # back-off(cat) + p(the)
    assert lm.log10_prob(("the",), "dog") == pytest.approx(-0.2 - 2.0)  # back-off + <unk>
    scorer = WordScorer(lm, alpha=0.7, beta=1.1)
    score, history = scorer.word(("<s>",), "the")
    assert score == pytest.approx(0.7 * math.log(10) * -0.1 + 1.1)  # natural log, + beta
    oov, _ = scorer.word(history, "dog")
    assert oov == pytest.approx(0.7 * math.log(10) * (-0.2 - 2.0 - 10.0) + 1.1)
    assert scorer.partial("ca") == 0.0 and scorer.partial("cx") == -10.0


BAD_CALLS = [
    ({"log_probs_BxTxV": np.zeros((4, 3))}, "log_probs_BxTxV must have shape"),
    ({"beam_size": 2, "num_best": 3}, "num_best=3"),
    ({"prune_by": "word"}, "prune_by"),
    ({"word_delimiter_id": 3}, "word_delimiter_id=3"),
    ({"hotwords": ["a"]}, "vocab must list the 3 token strings"),
    ({"lm": "x.arpa", "vocab": ["", "a", "b"]}, "word_delimiter_id"),
]


@pytest.mark.parametrize("kwargs, message", BAD_CALLS)
def test_bad_arguments_raise_a_clear_error(kwargs, message):
    call = {"log_probs_BxTxV": np.zeros((1, 4, 3)), "paddings_BxT": np.zeros((1, 4))}
    with pytest.raises(ValueError, match=message):
        prefix_beam_search(**(call | {"beam_size": 2} | kwargs))
