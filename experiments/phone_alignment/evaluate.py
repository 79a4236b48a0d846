"""Aligned word boundaries against the known ones: rows of errors and their summary.

    t = Transcriber(workdir)
    kept, left_out = known_words(t, VOCABULARIES["words"])
    rows = boundary_rows(t, draw_joined(kept, count=100))
    summarize(rows)["exclude"]["median_ms"]

A word's onset is its first phone's aligned start, its offset its last phone's aligned end;
the truth is where its trimmed clip starts and ends in the joined audio
(w2v2jax/data/joined.py). Every rule for blank frames (w2v2jax/ctc/spans.py) is aligned from
the same log-probabilities.
"""

import numpy as np

from w2v2jax.ctc import BLANK_RULES
from w2v2jax.data import audio, synth, texts
from w2v2jax.errors import InputError

VOCABULARIES = {"words": texts.WORDS, "digits": texts.DIGITS + texts.COMMANDS}


def known_words(t, vocabulary) -> tuple[list[str], list[str]]:
    """(words whose espeak-ng IPA the model can emit, the others): a model trained on digits
    has no phones for "fish", and joining it would only test the error message."""
    kept, left_out = [], []
    for word, ipa in zip(vocabulary, synth.phonemize_many(list(vocabulary)), strict=True):
        try:
            t.encode(ipa, ipa=True)
            kept.append(word)
        except InputError:
            left_out.append(word)
    return kept, left_out


def boundary_rows(t, utts, rules=BLANK_RULES) -> list[dict]:
    """One row per word boundary (onset, offset) and rule: the true and aligned times and
    the signed error in ms (aligned - true: positive is late)."""
    rows = []
    for n, utt in enumerate(utts):
        lp_TxV = t.log_probs(audio.to_float(utt.audio))
        for rule in rules:
            _, words = t.align(lp_TxV, utt.ipa, ipa=True, blanks=rule)
            if len(words) != len(utt.words):
                raise InputError(
                    f"utterance {n} ({utt.ipa!r}) aligned as {len(words)} words, not "
                    f"{len(utt.words)}: a word's IPA holds a space"
                )
            for truth, (ipa, start, end) in zip(utt.words, words, strict=True):
                true_start, true_end = truth.seconds()
                for boundary, true_s, aligned_s in (
                    ("onset", true_start, start),
                    ("offset", true_end, end),
                ):
                    rows.append(
                        {
                            "utterance": n,
                            "voice": utt.voice,
                            "word": truth.text,
                            "ipa": ipa,
                            "rule": rule,
                            "boundary": boundary,
                            "true_s": round(true_s, 5),
                            "aligned_s": round(aligned_s, 5),
                            "error_ms": round(1000 * (aligned_s - true_s), 2),
                        }
                    )
    return rows


def summarize(rows: list[dict]) -> dict:
    """Per rule: boundaries counted, median and 90th percentile of |error| (all, onsets,
    offsets), and the median signed error (the bias)."""
    out = {}
    for rule in dict.fromkeys(r["rule"] for r in rows):
        errors = {
            kind: np.asarray(
                [
                    r["error_ms"]
                    for r in rows
                    if r["rule"] == rule and kind in ("all", r["boundary"])
                ]
            )
            for kind in ("all", "onset", "offset")
        }
        out[rule] = {
            "boundaries": len(errors["all"]),
            "median_ms": float(np.median(np.abs(errors["all"]))),
            "p90_ms": float(np.percentile(np.abs(errors["all"]), 90)),
            "onset_median_ms": float(np.median(np.abs(errors["onset"]))),
            "onset_p90_ms": float(np.percentile(np.abs(errors["onset"]), 90)),
            "offset_median_ms": float(np.median(np.abs(errors["offset"]))),
            "offset_p90_ms": float(np.percentile(np.abs(errors["offset"]), 90)),
            "median_signed_ms": float(np.median(errors["all"])),
            "onset_signed_ms": float(np.median(errors["onset"])),
            "offset_signed_ms": float(np.median(errors["offset"])),
        }
    return out


def table(summary: dict) -> str:
    """The summary as a markdown table, one row per rule."""
    header = (
        "| blanks rule | boundaries | median abs error | 90th pct | onsets: median / 90th / "
        "signed | offsets: median / 90th / signed |"
    )
    lines = [header, "|---|---|---|---|---|---|"]
    for rule, s in summary.items():
        lines.append(
            f"| {rule} | {s['boundaries']} | {s['median_ms']:.0f} ms | {s['p90_ms']:.0f} ms | "
            f"{s['onset_median_ms']:.0f} / {s['onset_p90_ms']:.0f} / {s['onset_signed_ms']:+.0f}"
            f" ms | {s['offset_median_ms']:.0f} / {s['offset_p90_ms']:.0f} / "
            f"{s['offset_signed_ms']:+.0f} ms |"
        )
    return "\n".join(lines)
