"""Host scoring of CTC eval outputs: loss, CER and WER (greedy, optionally beam), per group."""

import collections

import numpy as np

from w2v2jax.ctc import prefix_beam_search
from w2v2jax.train.error_rates import ErrorRates


def _rows(out):
    """Host rows of one evaluated batch, padding rows dropped."""
    for b in np.nonzero(out["valid"] > 0)[0]:
        yield {k: v[b] for k, v in out.items()}


def _ids(values, paddings=None):
    """Ids of a row: those not padded, or (paddings None) those >= 0."""
    if paddings is None:
        return [int(x) for x in values if x >= 0]
    return [int(x) for x, p in zip(values, paddings, strict=True) if p == 0]


def score_split(outputs, tok, *, groups=None, beam=0) -> dict:
    """{"loss", "cer", "wer", "count"} plus per-group and beam entries.

    outputs: host dicts of the eval step, one per batch; with beam > 0 they hold log_probs.
    groups: {name: [indices]} to report separately (e.g. the test split's voice groups).
    """
    group_of = {i: g for g, idx in (groups or {}).items() for i in idx}
    rates = collections.defaultdict(ErrorRates)
    losses = collections.defaultdict(list)
    for out in outputs:
        if beam:
            beam_ids, _ = prefix_beam_search(
                out["log_probs"], out["paddings"], beam_size=beam, num_best=1
            )
            out["beam_ids"] = np.asarray(beam_ids)[:, 0]
        for row in _rows(out):
            ref = tok.decode(_ids(row["labels"], row["label_paddings"]))
            hyp = tok.decode(_ids(row["ids"]))
            names = ["all"] + (
                [group_of[int(row["index"])]] if int(row["index"]) in group_of else []
            )
            for name in names:
                rates[name].add(ref, hyp)
                losses[name].append(float(row["loss"]))
                if beam:
                    rates[name + "/beam"].add(ref, tok.decode(_ids(row["beam_ids"])))
    result = {}
    for name, r in rates.items():
        if name.endswith("/beam"):
            base = name[: -len("/beam")]
            prefix = "" if base == "all" else base + "/"
            result.update({prefix + "beam_cer": r.cer, prefix + "beam_wer": r.wer})
            continue
        prefix = "" if name == "all" else name + "/"
        result.update(
            {
                prefix + "cer": r.cer,
                prefix + "wer": r.wer,
                prefix + "count": r.count,
                prefix + "loss": float(np.mean(losses[name])),
            }
        )
    return result
