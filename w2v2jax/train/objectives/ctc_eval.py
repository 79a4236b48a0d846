"""Host scoring of CTC eval outputs: loss, CER and WER (greedy, optionally beam), per group;
PER and FER too when the labels are phonemes."""

import collections
import functools

import numpy as np
from absl import logging

from w2v2jax import scoring
from w2v2jax.ctc import prefix_beam_search


def _rows(out):
    """Host rows of one evaluated batch, padding rows dropped."""
    for b in np.nonzero(out["valid"] > 0)[0]:
        yield {k: v[b] for k, v in out.items()}


def _ids(values, paddings=None):
    """Ids of a row: those not padded, or (paddings None) those >= 0."""
    if paddings is None:
        return [int(x) for x in values if x >= 0]
    return [int(x) for x, p in zip(values, paddings, strict=True) if p == 0]


def _scored(tok, ids, phonemes: bool):
    """(text, units) of ids: the units are the label symbols PER and FER count (None for
    characters), so two symbols the model emits apart are never read back as one."""
    return tok.decode(ids), tok.units_of(ids) if phonemes else None


def score_split(outputs, tok, *, groups=None, beam=0) -> dict:
    """{"loss", "cer", "wer", "count"} plus per-group and beam entries; with a phoneme
    tokenizer also "per" and "fer" ("beam_per", "beam_fer").

    outputs: host dicts of the eval step, one per batch; with beam > 0 they hold log_probs.
    groups: {name: [indices]} to report separately (e.g. the test split's voice groups).
    """
    phonemes = tok.kind == "phoneme"
    group_of = {i: g for g, idx in (groups or {}).items() for i in idx}
    # strict=False: a symbol panphon has no features for must not stop a run at its first
    # eval; FER counts it as a whole phone and the log names it.
    rates = collections.defaultdict(
        functools.partial(scoring.ErrorRates, phonemes=phonemes, strict=False)
    )
    losses = collections.defaultdict(list)
    for out in outputs:
        if beam:
            beam_ids, _ = prefix_beam_search(
                out["log_probs"], out["paddings"], beam_size=beam, num_best=1
            )
            out["beam_ids"] = np.asarray(beam_ids)[:, 0]
        for row in _rows(out):
            ref, ref_units = _scored(tok, _ids(row["labels"], row["label_paddings"]), phonemes)
            hyp, hyp_units = _scored(tok, _ids(row["ids"]), phonemes)
            if beam:
                beam_hyp, beam_units = _scored(tok, _ids(row["beam_ids"]), phonemes)
            names = ["all"] + (
                [group_of[int(row["index"])]] if int(row["index"]) in group_of else []
            )
            for name in names:
                rates[name].add(ref, hyp, ref_units, hyp_units)
                losses[name].append(float(row["loss"]))
                if beam:
                    rates[name + "/beam"].add(ref, beam_hyp, ref_units, beam_units)
    unknown = rates["all"].features.unknown if "all" in rates and phonemes else ()
    if unknown:
        logging.warning(
            "FER counts these phonemes as whole phones, panphon has no features for them: %s",
            sorted(unknown),
        )
    return _results(rates, losses)


def _results(rates, losses) -> dict:
    """Flat keys: "cer", "espeak/cer", "beam_cer", "espeak/beam_cer", ... ("all" unnamed)."""
    result = {}
    for name, r in rates.items():
        if name.endswith("/beam"):
            base = name[: -len("/beam")]
            prefix = "" if base == "all" else base + "/"
            result.update({prefix + "beam_" + k: v for k, v in r.rates().items()})
            continue
        prefix = "" if name == "all" else name + "/"
        result.update({prefix + k: v for k, v in r.rates().items()})
        result.update({prefix + "count": r.count, prefix + "loss": float(np.mean(losses[name]))})
    return result
