"""Figure 4: the CTC lattice of a real utterance: the alpha table and the forced alignment.

The alpha table is computed here in numpy on the textbook extended sequence
(blank, l1, blank, l2, ..., blank), from the trained model's frame log-probs; its total
log p(labels | audio) is checked against the library's `ctc_loss` (a different lattice
layout and a custom VJP: agreement is a test of both). The best path comes from
`w2v2jax.ctc.forced_align` (Viterbi) and is drawn over the table.
"""

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments.figures.output import save
from w2v2jax.ctc import ctc_loss, forced_align

BLANK = 0


def extended(labels: list[int]) -> list[int]:
    out = [BLANK]
    for u in labels:
        out += [u, BLANK]
    return out


def alpha_table(lp_TxV: np.ndarray, labels: list[int]) -> np.ndarray:
    """log alpha [T, 2U+1]: log-prob of all prefixes of paths ending in state s at frame t."""
    ext = extended(labels)
    t_len, s_len = lp_TxV.shape[0], len(ext)
    alpha = np.full((t_len, s_len), -np.inf)
    alpha[0, 0] = lp_TxV[0, BLANK]
    if s_len > 1:
        alpha[0, 1] = lp_TxV[0, ext[1]]
    for t in range(1, t_len):
        for s in range(s_len):
            prev = [alpha[t - 1, s]]
            if s >= 1:
                prev.append(alpha[t - 1, s - 1])
            # A label may skip the blank before it unless it repeats the previous label.
            if s >= 2 and ext[s] != BLANK and ext[s] != ext[s - 2]:
                prev.append(alpha[t - 1, s - 2])
            alpha[t, s] = np.logaddexp.reduce(prev) + lp_TxV[t, ext[s]]
    return alpha


def path_states(label_index_T: np.ndarray) -> list[int]:
    """Forced alignment (label position per frame, -1 = blank) -> extended-state index."""
    states, last = [], -1
    for u in label_index_T:
        if u >= 0:
            last = int(u)
            states.append(2 * last + 1)
        else:
            states.append(2 * (last + 1))  # the blank after the last label emitted
    return states


def draw(run, out: str) -> list[str]:
    ex = run.pick("validation", 6, 14)
    labels = run.tok.encode(ex["text"])
    lp = run.log_probs(ex["audio"]).astype(np.float64)
    alpha = alpha_table(lp, labels)
    s_len = alpha.shape[1]
    total = np.logaddexp(alpha[-1, -1], alpha[-1, -2]) if s_len > 1 else alpha[-1, -1]
    lab = jnp.asarray([labels], jnp.int32)
    ref = -float(
        ctc_loss(
            jnp.asarray(lp[None], jnp.float32), jnp.zeros((1, len(lp))), lab, jnp.zeros(lab.shape)
        )[0]
    )
    if not np.isclose(total, ref, rtol=1e-3, atol=1e-2):
        raise AssertionError(f"alpha table gives log p = {total}, ctc_loss gives {ref}")
    align = forced_align(jnp.asarray(lp[None]), jnp.zeros((1, len(lp))), lab, jnp.zeros(lab.shape))
    path = path_states(np.asarray(align.label_index_BxT[0]))
    # Per-frame normalisation: where the mass of the surviving prefixes sits at frame t.
    norm = np.exp(alpha - np.logaddexp.reduce(alpha, axis=1, keepdims=True))
    names = [_symbol(run.tok, u) for u in extended(labels)]
    fig, (top, ax) = plt.subplots(
        2,
        1,
        figsize=(max(8, len(lp) / 6), 8),
        gridspec_kw={"height_ratios": [1, 4]},
        layout="constrained",
    )
    wave = np.asarray(ex["audio"], np.float32) / 32768
    top.plot(np.arange(len(wave)) / 320, wave, lw=0.4, color="k")
    top.set(
        xlim=(-0.5, len(lp) - 0.5),
        yticks=[],
        title=f'{ex["split"]} #{ex["index"]}: "{ex["text"]}" ({ex["voice"]})',
    )
    im = ax.imshow(norm.T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest")
    ax.plot(range(len(path)), path, color="cyan", lw=1.5, marker=".", ms=4, label="best path")
    ax.set_yticks(range(s_len), names, fontsize=7)
    ax.set(xlabel="frame (20 ms)", ylabel="lattice state")
    ax.set_title(
        f"alpha_t(s), normalised per frame; log p(text|audio) = {total:.3f} "
        f"(ctc_loss: {ref:.3f}); Viterbi path score {float(align.scores_B[0]):.3f}"
    )
    ax.legend(loc="upper left")
    # One colorbar for both rows keeps the waveform's frames above the lattice's.
    fig.colorbar(im, ax=[top, ax], fraction=0.03)
    rows = [
        {
            "frame": t,
            "state": s,
            "symbol": names[s],
            "log_alpha": float(alpha[t, s]),
            "alpha_normalised": float(norm[t, s]),
            "on_best_path": int(path[t] == s),
        }
        for t in range(len(lp))
        for s in range(s_len)
    ]
    return save(fig, out, "4_ctc_lattice", rows)


def _symbol(tok, i: int) -> str:
    return "∅" if i == BLANK else tok.symbols[i]  # "|" is the word delimiter
