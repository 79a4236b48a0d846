"""Host scoring of CTC eval outputs: the keys of a character run, and PER/FER for phonemes."""

import json

import numpy as np
import pytest
from train_helpers import micro_config, run_single

from w2v2jax import scoring
from w2v2jax.data import CharTokenizer, PhonemeTokenizer
from w2v2jax.train.objectives.ctc_eval import score_split


def _outputs(tok, refs, hyps, width=16):
    """One eval batch as the eval step hands it to the host, plus a padding row."""
    rows = len(refs) + 1
    out = {
        "labels": np.zeros((rows, width), np.int32),
        "label_paddings": np.ones((rows, width), np.float32),
        "ids": np.full((rows, width), -1, np.int32),
        "valid": np.array([1.0] * len(refs) + [0.0], np.float32),
        "index": np.arange(rows, dtype=np.int32),
        "loss": np.linspace(1.0, 2.0, rows).astype(np.float32),
    }
    for b, (ref, hyp) in enumerate(zip(refs, hyps, strict=True)):
        labels, ids = tok.encode(ref), tok.encode(hyp)
        out["labels"][b, : len(labels)], out["label_paddings"][b, : len(labels)] = labels, 0
        out["ids"][b, : len(ids)] = ids
    return [out]


def test_a_character_run_keeps_its_keys():
    refs, hyps = ["one two", "three"], ["one too", "tree"]
    tok = CharTokenizer.from_texts(refs + hyps)
    result = score_split(_outputs(tok, refs, hyps), tok, groups={"espeak": [1]})
    assert set(result) == {"cer", "wer", "count", "loss"} | {
        "espeak/" + k for k in ("cer", "wer", "count", "loss")
    }
    assert result["cer"] == pytest.approx(scoring.cer(refs, hyps))
    assert result["espeak/wer"] == 1 and result["count"] == 2


def test_a_phoneme_run_reports_per_and_fer_per_group():
    refs, hyps = ["tʃiːz bɜːd", "ɡoʊ stɑːp"], ["dʒiːs bɜːd", "ɡoʊ tɑːp"]
    tok = PhonemeTokenizer.from_texts(refs + hyps)
    result = score_split(_outputs(tok, refs, hyps), tok, groups={"flite": [0]})
    for prefix in ("", "flite/"):
        assert {prefix + k for k in ("cer", "wer", "per", "fer", "count", "loss")} <= set(result)
    assert result["per"] == pytest.approx(scoring.per(refs, hyps)) == pytest.approx(3 / 12)
    assert result["fer"] == pytest.approx(scoring.fer(refs, hyps))
    assert result["flite/per"] == pytest.approx(2 / 6)
    assert 0 < result["fer"] < result["per"]  # voicing slips cost a fraction of a phone


def test_beam_keys_follow_the_greedy_ones():
    refs, hyps = ["tʃiːz", "ɡoʊ"], ["dʒiːz", "ɡoʊ"]
    tok = PhonemeTokenizer.from_texts(refs + hyps)
    outputs = _outputs(tok, refs, hyps, width=8)
    # frame posteriors whose best path is the greedy hypothesis, blank between symbols
    ids = np.where(outputs[0]["ids"] >= 0, outputs[0]["ids"], 0)
    frames = np.stack([ids, np.zeros_like(ids)], -1).reshape(len(ids), -1)
    log_probs = np.full((*frames.shape, len(tok)), -20.0, np.float32)
    np.put_along_axis(log_probs, frames[..., None], 0.0, axis=-1)
    outputs[0].update(log_probs=log_probs, paddings=np.zeros(frames.shape, np.float32))
    result = score_split(outputs, tok, beam=2)
    for k in ("cer", "wer", "per", "fer"):
        assert result["beam_" + k] == pytest.approx(result[k])
    assert result["beam_per"] == pytest.approx(1 / 5)


@pytest.mark.slow  # a whole micro run: ~30 s here under load
def test_a_phoneme_run_logs_per_and_fer_for_every_split_and_voice_group(tiny_corpus, tmp_path):
    summary = run_single(micro_config(tiny_corpus, label="phonemes", total_steps=2), str(tmp_path))
    saved = json.loads((tmp_path / "summary.json").read_text())
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for prefix in ("validation/", "test/espeak/", "test/flite/"):
        for k in ("per", "fer", "cer"):
            assert prefix + k in summary and prefix + k in saved
            assert any(prefix + k in row for row in logged)
