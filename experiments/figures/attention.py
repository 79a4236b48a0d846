"""Figure 5: what a trained model attends to, and what its conv positional embedding learned.

5a: attention probabilities of every layer and head on one real utterance (sown by the
model's Attention module), and their mean against the offset key - query.
5b: the grouped conv kernels, weight = g * v / ||v|| [K, D/G, D]; group j maps its D/G input
channels to its D/G output channels. Per group and kernel tap: the RMS weight (trained, and
a fresh initialisation) and the group's dominant temporal filter (first singular
vector of its [K, (D/G)^2] weights, scaled by the singular value).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments.figures.output import save
from w2v2jax.models.positional import ConvPositionalEmbedding


def draw_maps(run, out: str) -> list[str]:
    ex = run.pick("validation", 10, 20)
    att = run.attention(ex["audio"])  # [L, H, T, T]
    n_l, n_h, t, _ = att.shape
    fig, axes = plt.subplots(n_l, n_h + 1, figsize=(2.6 * (n_h + 1), 2.5 * n_l), squeeze=False)
    offsets = np.arange(-(t - 1), t)
    by_offset = {}
    for i in range(n_l):
        for j in range(n_h):
            ax = axes[i, j]
            ax.imshow(att[i, j], cmap="viridis", origin="upper", interpolation="nearest")
            ax.set_title(f"layer {i} head {j}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            # Mean probability at each offset: near-diagonal mass means local attention.
            by_offset[i, j] = np.array([np.mean(np.diagonal(att[i, j], o)) for o in offsets])
            axes[i, -1].plot(offsets, by_offset[i, j], lw=1, label=f"h{j}")
        axes[i, -1].set_title(f"layer {i}: mean prob vs key-query", fontsize=8)
        axes[i, -1].set(xlim=(-25, 25), xlabel="key - query (frames)")
        axes[i, -1].legend(fontsize=6)
    axes[0, 0].set_ylabel("query frame")
    axes[-1, 0].set_xlabel("key frame")
    fig.suptitle(
        f'Attention of {run.cfg.posemb} model (step {run.step}) on "{ex["text"]}" ({t} frames)'
    )
    fig.tight_layout()
    rows = [
        {"layer": i, "head": j, "query": q, "key": k, "prob": float(att[i, j, q, k])}
        for i in range(n_l)
        for j in range(n_h)
        for q in range(t)
        for k in range(t)
    ]
    offset_rows = [
        {"layer": i, "head": j, "offset": int(o), "mean_prob": float(by_offset[i, j][n])}
        for (i, j) in by_offset
        for n, o in enumerate(offsets)
    ]
    return save(fig, out, "5a_attention_maps", rows, extra={"by_offset": offset_rows})


def conv_kernel(p: dict) -> np.ndarray:
    """The effective [K, D/G, D] kernel of ConvPositionalEmbedding (weight norm over K)."""
    v, g = np.asarray(p["weight_v"], np.float64), np.asarray(p["weight_g"], np.float64)
    return v * (g / np.sqrt(np.sum(v**2, axis=(1, 2))))[:, None, None]


def group_stats(w: np.ndarray, groups: int):
    """Per group: RMS over channels per tap [G, K], and the dominant temporal filter [G, K]."""
    k, cin, _ = w.shape  # cin = D/G: each group maps cin inputs to cin outputs
    rms, dominant = np.zeros((groups, k)), np.zeros((groups, k))
    for j in range(groups):
        wg = w[:, :, j * cin : (j + 1) * cin].reshape(k, -1)
        rms[j] = np.sqrt(np.mean(wg**2, axis=1))
        u, s, _ = np.linalg.svd(wg, full_matrices=False)
        f = u[:, 0] * s[0]
        dominant[j] = f * np.sign(f[np.argmax(np.abs(f))])  # sign-fixed: peak positive
    return rms, dominant


def draw_groups(run, out: str) -> list[str]:
    cfg = run.cfg
    if cfg.posemb != "conv":
        print(f"5b skipped: this model's posemb is {cfg.posemb!r}, it has no conv embedding")
        return []
    trained = conv_kernel(run.encoder_params()["pos_conv_embed"])
    # A fresh draw from the module's own initialiser: the distribution training started from.
    x = jnp.zeros((1, cfg.num_conv_pos_embeddings, cfg.hidden_size))
    init = nn.unbox(ConvPositionalEmbedding(cfg).init(jax.random.PRNGKey(0), x)["params"])
    g, k = cfg.num_conv_pos_embedding_groups, cfg.num_conv_pos_embeddings
    rms_t, dom_t = group_stats(trained, g)
    rms_i, _ = group_stats(conv_kernel(init), g)
    taps = np.arange(k) - k // 2  # tap offset in frames (output frame t sees t + offset)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4.2))
    vmax = max(rms_t.max(), rms_i.max())
    extent = (taps[0] - 0.5, taps[-1] + 0.5, g - 0.5, -0.5)
    a.imshow(rms_i, aspect="auto", cmap="viridis", vmin=0, vmax=vmax, extent=extent)
    a.set(
        title="RMS weight per tap, at initialisation", xlabel="tap offset (frames)", ylabel="group"
    )
    im = b.imshow(rms_t, aspect="auto", cmap="viridis", vmin=0, vmax=vmax, extent=extent)
    b.set(title=f"trained (step {run.step})", xlabel="tap offset (frames)")
    a.set_yticks(range(g))
    b.set_yticks(range(g))
    fig.colorbar(im, ax=b)
    for j in range(g):
        c.plot(taps, dom_t[j], lw=1, label=f"group {j}")
    c.set(title="dominant temporal filter per group (trained)", xlabel="tap offset (frames)")
    c.legend(fontsize=6, ncol=2)
    c.grid(alpha=0.3)
    fig.suptitle(
        f"Conv positional embedding: kernel {k} taps ({k * 20} ms), {g} groups of "
        f"{cfg.hidden_size // g} channels"
    )
    fig.tight_layout()
    rows = [
        {
            "group": j,
            "tap_offset": int(taps[n]),
            "rms_trained": float(rms_t[j, n]),
            "rms_init": float(rms_i[j, n]),
            "dominant_filter": float(dom_t[j, n]),
        }
        for j in range(g)
        for n in range(k)
    ]
    return save(fig, out, "5b_conv_posemb_groups", rows)
