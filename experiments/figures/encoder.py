"""Figure 1: the feature encoder's arithmetic for one 400-sample window.

Lengths are read from the shapes the model's own conv layers produce on a 400-sample
input (flax capture_intermediates) and checked against `layer_lengths`, the formula the
model uses for paddings; receptive field and hop come from `receptive_field`/`hop_length`
applied to the first i layers. Nothing is retyped.
"""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from experiments.figures.output import save
from w2v2jax.frames import SAMPLE_RATE, hop_length, layer_lengths, receptive_field
from w2v2jax.models import FeatureEncoder

WINDOW = 400


def measured_lengths(cfg, num_samples: int = WINDOW) -> list[int]:
    """Time length after each conv layer, as the model computes it."""
    enc = FeatureEncoder(cfg)
    x = jnp.zeros((1, num_samples), jnp.float32)
    variables = jax.jit(enc.init)(jax.random.PRNGKey(0), x)
    apply = jax.jit(lambda v, a: enc.apply(v, a, capture_intermediates=True, mutable=True))
    _, state = apply(variables, x)
    inter = state["intermediates"]
    return [num_samples] + [
        int(inter[f"conv_layers_{i}"]["__call__"][0].shape[1]) for i in range(len(cfg.conv_dim))
    ]


def rows(cfg) -> list[dict]:
    model = measured_lengths(cfg)
    formula = layer_lengths(WINDOW, cfg)
    if model != formula:
        raise AssertionError(f"model lengths {model} != layer_lengths {formula}")
    out = [
        {
            "layer": "input",
            "kernel": "",
            "stride": "",
            "channels": 1,
            "length": WINDOW,
            "receptive_field": 1,
            "hop": 1,
        }
    ]
    for i in range(len(cfg.conv_dim)):
        first = cfg.replace(
            conv_dim=cfg.conv_dim[: i + 1],
            conv_kernel=cfg.conv_kernel[: i + 1],
            conv_stride=cfg.conv_stride[: i + 1],
        )
        out.append(
            {
                "layer": i,
                "kernel": cfg.conv_kernel[i],
                "stride": cfg.conv_stride[i],
                "channels": cfg.conv_dim[i],
                "length": model[i + 1],
                "receptive_field": receptive_field(first),
                "hop": hop_length(first),
            }
        )
    return out


def draw(cfg, out: str) -> list[str]:
    data = rows(cfg)
    names = ["input"] + [f"conv{r['layer']}\nk={r['kernel']} s={r['stride']}" for r in data[1:]]
    x = range(len(data))
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [3, 3, 2]})
    a.bar(x, [r["length"] for r in data], color="tab:blue")
    for i, r in enumerate(data):
        a.text(i, r["length"] * 1.1, str(r["length"]), ha="center", fontsize=9)
    a.set(yscale="log", ylabel="time steps per channel", ylim=(0.5, WINDOW * 3))
    a.set_xticks(list(x), names, fontsize=7)
    a.set_title(f"one {WINDOW}-sample window ({1000 * WINDOW / SAMPLE_RATE:g} ms)")
    b.plot(x, [r["receptive_field"] for r in data], "o-", label="receptive field")
    b.plot(x, [r["hop"] for r in data], "s--", label="hop (jump)")
    for i, r in enumerate(data[1:], 1):
        b.text(i, r["receptive_field"] * 1.15, str(r["receptive_field"]), ha="center", fontsize=8)
    b.set(yscale="log", ylabel="input samples")
    b.set_xticks(list(x), names, fontsize=7)
    b.legend(loc="upper left")
    field, hop = data[-1]["receptive_field"], data[-1]["hop"]
    b.set_title(
        f"frame = {field} samples ({1000 * field / SAMPLE_RATE:g} ms), "
        f"hop {hop} ({1000 * hop / SAMPLE_RATE:g} ms)"
    )
    for t in range(4):  # consecutive frames overlap by field - hop samples
        c.barh(t, field, left=t * hop, color="tab:green", alpha=0.6)
        c.text(t * hop + field / 2, t, f"frame {t}", ha="center", va="center", fontsize=8)
    c.set(
        xlabel="input sample",
        yticks=[],
        title=f"overlap {field - hop} samples ({1000 * (field - hop) / SAMPLE_RATE:g} ms)",
    )
    c.invert_yaxis()
    fig.suptitle(f"Feature encoder arithmetic ({len(cfg.conv_dim)} conv layers, from the model)")
    fig.tight_layout()
    return save(fig, out, "1_feature_encoder", data)
