"""The ARPA n-gram LM (Katz back-off) and pyctcdecode's word and partial-word scoring."""

import math

import pytest
from ctc_helpers import ARPA

from w2v2jax.ctc import ArpaLM, WordScorer


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
