"""Figure 6: greedy against prefix beam search on a real utterance.

The whole test split is decoded both ways in one batch (one compilation); the figure shows
the shortest utterance on which beam loses to greedy (else the shortest disagreement), with
its frame posteriors, the greedy best path and both transcripts. `_summary.csv` counts, over
the split, where beam search beats greedy and where it loses to it: prefix beam search is a
heuristic, not the exact best labelling.
"""

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments.figures.output import save
from w2v2jax.ctc import greedy_decode, prefix_beam_search
from w2v2jax.scoring import edit_distance

BEAM = 8


def _decode_batch(run, examples):
    lps = [run.log_probs(ex["audio"]) for ex in examples]
    t_max, v = max(len(x) for x in lps), lps[0].shape[1]
    lp = np.zeros((len(lps), t_max, v), np.float32)
    pads = np.ones((len(lps), t_max), np.float32)
    for b, x in enumerate(lps):
        lp[b, : len(x)], pads[b, : len(x)] = x, 0.0
    greedy = np.asarray(greedy_decode(jnp.asarray(lp), jnp.asarray(pads)))
    beam_ids, scores = prefix_beam_search(lp, pads, beam_size=BEAM, num_best=BEAM)
    beam_ids, scores = np.asarray(beam_ids), np.asarray(scores)

    def text(ids):
        return run.tok.decode([int(i) for i in ids if i >= 0])

    out = []
    for b, ex in enumerate(examples):
        beams = [
            (text(beam_ids[b, n]), float(scores[b, n]))
            for n in range(BEAM)
            if scores[b, n] > -np.inf
        ]
        g_text, b_text = text(greedy[b]), beams[0][0] if beams else ""
        out.append(
            {
                "example": ex,
                "lp": lps[b],
                "greedy": g_text,
                "beams": beams,
                "cer_greedy": _cer(ex["text"], g_text),
                "cer_beam": _cer(ex["text"], b_text),
            }
        )
    return out


def _cer(ref: str, hyp: str) -> float:
    return edit_distance(ref, hyp) / max(len(ref), 1)


def choose(decoded):
    """The shortest utterance where beam loses to greedy (beam search is not exact), else the
    shortest disagreement, else the largest greedy error."""
    worse = [d for d in decoded if d["cer_beam"] > d["cer_greedy"]]
    if worse:
        return min(worse, key=lambda d: len(d["lp"])), "beam search loses to greedy"
    differ = [d for d in decoded if d["beams"] and d["beams"][0][0] != d["greedy"]]
    if differ:
        return min(differ, key=lambda d: len(d["lp"])), "greedy and beam differ"
    worst = max(decoded, key=lambda d: d["cer_greedy"])
    return worst, f"no disagreement in {len(decoded)} utterances: the largest greedy error"


def summarize(decoded) -> dict:
    """Over every decoded utterance: how often beam's best differs, helps or hurts."""
    counts = {"utterances": len(decoded), "same_text": 0, "beam_better": 0, "beam_worse": 0}
    counts["differ_same_cer"] = 0
    errors = {"greedy": 0.0, "beam": 0.0}
    chars = 0
    for d in decoded:
        ref, beam = d["example"]["text"], d["beams"][0][0] if d["beams"] else ""
        g, b = d["cer_greedy"], d["cer_beam"]
        errors["greedy"] += g * len(ref)
        errors["beam"] += b * len(ref)
        chars += len(ref)
        key = (
            "same_text"
            if beam == d["greedy"]
            else "beam_better"
            if b < g
            else "beam_worse"
            if b > g
            else "differ_same_cer"
        )
        counts[key] += 1
    return {**counts, **{f"cer_{k}": v / max(chars, 1) for k, v in errors.items()}}


def draw(run, out: str) -> list[str]:
    src = run.split("test")
    decoded = _decode_batch(run, [{**src[i], "index": i} for i in range(len(src))])
    pick, why = choose(decoded)
    summary = summarize(decoded)
    ex, lp = pick["example"], pick["lp"]
    post = np.exp(lp)
    symbols = ["∅"] + run.tok.symbols[1:]
    best = post.argmax(1)
    shown = [v for v in range(post.shape[1]) if post[:, v].max() > 0.1]
    fig, (a, b) = plt.subplots(
        2,
        1,
        figsize=(max(9, len(lp) / 7), 7.5),
        sharex=True,
        gridspec_kw={"height_ratios": [2, 3]},
        layout="constrained",
    )
    im = a.imshow(
        post[:, shown].T,
        aspect="auto",
        origin="lower",
        cmap="Greys",
        interpolation="nearest",
        vmin=0,
        vmax=1,
    )
    a.set_yticks(range(len(shown)), [symbols[v] for v in shown], fontsize=7)
    a.plot(
        range(len(lp)),
        [shown.index(v) if v in shown else np.nan for v in best],
        "r.",
        ms=3,
        label="greedy argmax",
    )
    a.legend(loc="upper right", fontsize=7)
    a.set_title(f"test #{ex['index']} ({ex['voice_group']} voice {ex['voice']}): {why}")
    fig.colorbar(im, ax=[a, b], fraction=0.02)  # both rows keep the same frame axis
    for v in shown:
        b.plot(post[:, v], lw=1.5 if v else 1, ls="--" if v == 0 else "-", label=symbols[v])
    b.set(xlabel="frame (20 ms)", ylabel="posterior", ylim=(0, 1.05))
    b.legend(fontsize=6, ncol=max(1, len(shown) // 8), loc="center right")
    ref, beam_text = ex["text"], pick["beams"][0][0] if pick["beams"] else ""
    b.set_title(
        f'ref: "{ref}"\ngreedy: "{pick["greedy"]}" (CER {100 * pick["cer_greedy"]:.0f}%)'
        f'   beam {BEAM}: "{beam_text}" (CER {100 * pick["cer_beam"]:.0f}%)',
        fontsize=9,
    )
    rows = [
        {
            "frame": t,
            "argmax": symbols[int(best[t])],
            **{f"p_{symbols[v]}": float(post[t, v]) for v in range(post.shape[1])},
        }
        for t in range(len(lp))
    ]
    texts = [
        {"method": "reference", "text": ref, "cer": 0.0, "log_score": ""},
        {
            "method": "greedy",
            "text": pick["greedy"],
            "cer": pick["cer_greedy"],
            "log_score": "",
        },
    ]
    texts += [
        {"method": f"beam{BEAM}_rank{n}", "text": t, "cer": _cer(ref, t), "log_score": s}
        for n, (t, s) in enumerate(pick["beams"])
    ]
    fig.suptitle(
        f"whole test split ({summary['utterances']} utterances): beam {BEAM} better than greedy"
        f" on {summary['beam_better']}, worse on {summary['beam_worse']}; CER greedy"
        f" {100 * summary['cer_greedy']:.1f}%, beam {100 * summary['cer_beam']:.1f}%",
        fontsize=9,
    )
    return save(
        fig, out, "6_greedy_vs_beam", rows, extra={"decodings": texts, "summary": [summary]}
    )
