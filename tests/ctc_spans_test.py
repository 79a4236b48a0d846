"""Label spans from a forced alignment under each rule for blank frames (ctc/spans.py)."""

import itertools

import numpy as np
import pytest
from ctc_align_test import random_batch

from w2v2jax.ctc import BLANK_RULES, forced_align, token_spans, word_groups, word_spans


def aligned(path, labels):
    """The alignment of `labels` over frames that each put almost all mass on `path`."""
    log_probs = np.log(np.eye(6)[path] * 0.95 + 0.01)[None]
    labels = np.asarray([labels], np.int32)
    alignment = forced_align(log_probs, np.zeros((1, len(path))), labels, np.zeros(labels.shape))
    assert list(np.asarray(alignment.path_BxT[0])) == path
    return alignment, labels


def bounds(spans):
    return [(s.start, s.end) for s in spans]


def test_each_rule_on_a_known_path():
    # Frames: _ a a _ b | _ _ c c _ _ _  with labels "ab|c" (| = 3); 13 frames.
    path = [0, 1, 1, 0, 2, 3, 0, 0, 4, 4, 0, 0, 0]
    alignment, labels = aligned(path, [1, 2, 3, 4])
    (exclude,) = token_spans(alignment, labels)
    assert bounds(exclude) == [(1, 3), (4, 5), (5, 6), (8, 10)]
    assert [(s.index, s.id) for s in exclude] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    (previous,) = token_spans(alignment, labels, blanks="previous")
    assert bounds(previous) == [(1, 4), (4, 5), (5, 8), (8, 13)]
    (split,) = token_spans(alignment, labels, blanks="split")
    assert bounds(split) == [(1, 4), (4, 5), (5, 7), (7, 10)]
    (phones,) = token_spans(alignment, labels, blanks="previous", skip_ids=(3,))
    assert [(s.id, s.start, s.end) for s in phones] == [(1, 1, 4), (2, 4, 5), (4, 8, 13)]
    assert phones[2].seconds() == pytest.approx((0.16, 0.26))
    assert phones[2].seconds(0.01) == pytest.approx((0.08, 0.13))


def test_rules_on_random_alignments():
    log_probs, paddings, labels, label_paddings, _, lengths_B = random_batch(3)
    alignment = forced_align(log_probs, paddings, labels, label_paddings)
    frames_B = np.sum(np.asarray(paddings) < 0.5, axis=1)
    rows = {rule: token_spans(alignment, labels, blanks=rule) for rule in BLANK_RULES}
    for b, length in enumerate(lengths_B):
        if not np.isfinite(alignment.scores_B[b]) or length == 0:
            assert all(rows[rule][b] == [] for rule in BLANK_RULES)
            continue
        exclude = rows["exclude"][b]
        assert bounds(exclude) == list(
            zip(alignment.starts_BxU[b, :length], alignment.ends_BxU[b, :length], strict=True)
        )
        for rule in ("previous", "split"):
            spans = rows[rule][b]
            # Every rule only adds blank frames: a label keeps its emitting frames.
            assert all(
                s.start <= x.start and x.end <= s.end for s, x in zip(spans, exclude, strict=True)
            )
            assert all(x.end == y.start for x, y in itertools.pairwise(spans))
        assert rows["previous"][b][-1].end == frames_B[b]
        assert rows["split"][b][-1].end == exclude[-1].end
        assert rows["split"][b][0].start == rows["previous"][b][0].start == exclude[0].start


def test_word_groups_equal_word_spans():
    path = [0, 1, 1, 0, 2, 3, 0, 0, 4, 4, 0, 3, 5, 0]
    alignment, labels = aligned(path, [1, 2, 3, 4, 3, 5])
    (spans,) = token_spans(alignment, labels)
    words = word_groups(spans, word_delimiter_id=3)
    assert [[s.id for s in w] for w in words] == [[1, 2], [4], [5]]
    (expected,) = word_spans(alignment, labels, word_delimiter_id=3)
    got = [t for w in words for t in (w[0].seconds()[0], w[-1].seconds()[1])]
    assert got == pytest.approx([t for w in expected for t in (w.start, w.end)])


def test_an_unknown_rule_is_named():
    alignment, labels = aligned([1, 0], [1])
    with pytest.raises(ValueError, match="blanks='after'.*exclude"):
        token_spans(alignment, labels, blanks="after")
