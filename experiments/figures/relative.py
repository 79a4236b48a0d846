"""Figure 3 (Yan et al. 2019, fig. 2): dot products of sinusoidal encodings at offset k.

raw:       PE_t . PE_{t+k}                      (depends on k only, symmetric: distance, no sign)
projected: (PE_t W_Q) . (PE_{t+k} W_K) per head (what attention logits see of position)
with W_Q, W_K drawn as the model initialises them (normal, std 0.02) and taken from the
trained workdir's first layer. Biases are left out, as in Yan et al.
"""

import matplotlib.pyplot as plt
import numpy as np

from experiments.figures.output import save
from w2v2jax.models import sinusoid_table

MAX_OFFSET = 50
CENTER = 100  # reference position t; PE_t.PE_{t+k} does not depend on it, projections may
RANDOM_DRAWS = 3


def curves(table, wq, wk, heads: int) -> np.ndarray:
    """[heads, 2*MAX_OFFSET+1]: (PE_t W_Q)_h . (PE_{t+k} W_K)_h for k = -MAX..MAX."""
    offsets = np.arange(-MAX_OFFSET, MAX_OFFSET + 1)
    q = (table[CENTER] @ wq).reshape(heads, -1)  # [H, K]
    k = (table[CENTER + offsets] @ wk).reshape(len(offsets), heads, -1)  # [O, H, K]
    return np.einsum("hk,ohk->ho", q, k)


def draw(run, out: str) -> list[str]:
    cfg = run.cfg
    d, h = cfg.hidden_size, cfg.num_attention_heads
    table = sinusoid_table(CENTER + MAX_OFFSET + 1, d).astype(np.float64)
    offsets = np.arange(-MAX_OFFSET, MAX_OFFSET + 1)
    raw = table[CENTER + offsets] @ table[CENTER]
    rng = np.random.default_rng(0)
    rand = [
        curves(table, rng.normal(0, 0.02, (d, d)), rng.normal(0, 0.02, (d, d)), h)[0]
        for _ in range(RANDOM_DRAWS)
    ]
    attn = run.encoder_params()["layers_0"]["attention"] if not cfg.scan_layers else None
    if attn is None:  # scanned layers: params stacked on a leading layer axis
        attn = {
            k: {"kernel": v["kernel"][0]}
            for k, v in run.encoder_params()["layers"]["layer"]["attention"].items()
        }
    wq = np.asarray(attn["q_proj"]["kernel"], np.float64)
    wk = np.asarray(attn["k_proj"]["kernel"], np.float64)
    trained = curves(table, wq, wk, h)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharex=True)
    axes[0].plot(offsets, raw, color="tab:blue", label=_shape(raw))
    axes[0].legend(fontsize=7)
    axes[0].set_title("raw: PE_t · PE_t+k")
    for i, r in enumerate(rand):
        axes[1].plot(offsets, r, lw=1, label=f"draw {i}, {_shape(r)}")
    axes[1].set_title("PE_t W_Q · PE_t+k W_K, random W (head 0)")
    for i, r in enumerate(trained):
        axes[2].plot(offsets, r, lw=1, label=f"head {i}, {_shape(r)}")
    axes[2].set_title(f"trained W, layer 0 (posemb={cfg.posemb}, step {run.step})")
    for ax in axes:
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("offset k (frames)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    axes[0].set_ylabel("dot product")
    fig.suptitle(f"Sinusoidal encodings (D={d}) before and after the attention projections")
    fig.tight_layout()
    rows = [
        {
            "offset": int(o),
            "raw": float(raw[j]),
            **{f"random_{i}": float(r[j]) for i, r in enumerate(rand)},
            **{f"trained_head_{i}": float(r[j]) for i, r in enumerate(trained)},
        }
        for j, o in enumerate(offsets)
    ]
    return save(fig, out, "3_relative_dot_products", rows)


def _shape(curve: np.ndarray) -> str:
    """Where the curve peaks, and how symmetric it is: corr(f(k), f(-k)) (1 = symmetric)."""
    peak = int(np.argmax(curve)) - MAX_OFFSET
    return f"max at k={peak}, sym {np.corrcoef(curve, curve[::-1])[0, 1]:.2f}"
