"""Exact evaluation over whole splits: CTC loss, CER and WER (greedy, optionally beam)."""

import collections

import jax
import numpy as np

from w2v2jax.ctc.decode import prefix_beam_search
from w2v2jax.data import pipeline
from w2v2jax.train.error_rates import ErrorRates
from w2v2jax.train.sharding import global_batch


def _rows(out):
    """Host rows of one evaluated batch, padding rows dropped."""
    for b in np.nonzero(out["valid"] > 0)[0]:
        yield {k: v[b] for k, v in out.items()}


def _ids(values, paddings=None):
    """Ids of a row: those not padded, or (paddings None) those >= 0."""
    if paddings is None:
        return [int(x) for x in values if x >= 0]
    return [int(x) for x, p in zip(values, paddings, strict=True) if p == 0]


def evaluate_split(
    eval_fn,
    params,
    source,
    tok,
    mesh,
    *,
    batch_size,
    boundaries,
    label_key,
    frames_fn,
    groups=None,
    beam=0,
):
    """Metrics of one split: {"loss", "cer", "wer", "count"} plus per-group and beam entries.

    groups: {name: [indices]} to report separately (e.g. the test split's voice groups).
    """
    ds = pipeline.make_eval_batches(
        source,
        tok,
        batch_size=batch_size // jax.process_count(),
        bucket_boundaries=boundaries,
        shard_index=jax.process_index(),
        shard_count=jax.process_count(),
        label_key=label_key,
        frames_fn=frames_fn,
    )
    group_of = {i: g for g, idx in (groups or {}).items() for i in idx}
    rates = collections.defaultdict(ErrorRates)
    losses = collections.defaultdict(list)
    for batch in ds:
        out = jax.device_get(eval_fn(params, global_batch(batch, mesh)))
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
        prefix = "" if name == "all" else name + "/"
        if name.endswith("/beam"):
            base = name[: -len("/beam")]
            prefix = "" if base == "all" else base + "/"
            result.update({prefix + "beam_cer": r.cer, prefix + "beam_wer": r.wer})
            continue
        result.update(
            {
                prefix + "cer": r.cer,
                prefix + "wer": r.wer,
                prefix + "count": r.count,
                prefix + "loss": float(np.mean(losses[name])),
            }
        )
    return result
