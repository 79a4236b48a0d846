"""Exact evaluation over whole splits: CTC loss, CER and WER (greedy, optionally beam)."""

import collections

import jax
import numpy as np

from w2v2jax.data import pipeline
from w2v2jax.train.error_rates import ErrorRates
from w2v2jax.train.sharding import global_batch


def _rows(out):
    """Host rows of one evaluated batch, padding rows dropped."""
    out = jax.device_get(out)
    for b in np.nonzero(out["valid"] > 0)[0]:
        yield {k: v[b] for k, v in out.items()}


def _ids(values, paddings):
    return [int(x) for x, p in zip(values, paddings, strict=True) if p == 0]


def evaluate_split(eval_fn, params, source, tok, mesh, *, batch_size, boundaries, label_key,
                   frames_fn, groups=None, beam=0):
    """Metrics of one split: {"loss", "cer", "wer", "count"} plus per-group and beam entries.

    groups: {name: [indices]} to report separately (e.g. the test split's voice groups).
    """
    ds = pipeline.make_eval_batches(
        source, tok, batch_size=batch_size // jax.process_count(), bucket_boundaries=boundaries,
        shard_index=jax.process_index(), shard_count=jax.process_count(), label_key=label_key,
        frames_fn=frames_fn,
    )
    group_of = {i: g for g, idx in (groups or {}).items() for i in idx}
    rates = collections.defaultdict(ErrorRates)
    losses = collections.defaultdict(list)
    for batch in ds:
        batch.pop("index_host", None)
        out = eval_fn(params, global_batch(batch, mesh))
        for row in _rows(out):
            ref = tok.decode(_ids(row["labels"], row["label_paddings"]))
            hyp = tok.decode(_ids(row["ids"], row["id_paddings"]))
            names = ["all"] + ([group_of[int(row["index"])]] if int(row["index"]) in group_of else [])
            for name in names:
                rates[name].add(ref, hyp)
                losses[name].append(float(row["loss"]))
                if beam:
                    rates[name + "/beam"].add(ref, _beam_text(row, tok, beam))
    result = {}
    for name, r in rates.items():
        prefix = "" if name == "all" else name + "/"
        if name.endswith("/beam"):
            base = name[: -len("/beam")]
            prefix = "" if base == "all" else base + "/"
            result.update({prefix + "beam_cer": r.cer, prefix + "beam_wer": r.wer})
            continue
        result.update({prefix + "cer": r.cer, prefix + "wer": r.wer, prefix + "count": r.count,
                       prefix + "loss": float(np.mean(losses[name]))})
    return result


def _beam_text(row, tok, beam):
    from w2v2jax.ctc import prefix_beam_search

    keep = row["paddings"] == 0
    log_probs = row["log_probs"][keep][None]
    best = prefix_beam_search(log_probs, np.zeros(log_probs.shape[:2], np.float32), beam_size=beam)
    return tok.decode(best[0][0][0])
