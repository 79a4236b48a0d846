"""The map between our parameter paths and transformers' state-dict keys.

One table in both directions: `ours_to_hf(path)` gives the HF key and how the array is laid
out there; the readers invert it by running it over every path of a freshly built tree.
"""

import numpy as np

# How an array differs between the two sides (ours -> torch).
DENSE, CONV, WN_V, WN_G, COPY = "dense", "conv", "wn_v", "wn_g", "copy"

_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias"}


def ours_to_hf(path: tuple[str, ...], hf_wn_g: tuple[int, ...] | None = None) -> tuple[str, str]:
    """("wav2vec2", "encoder", "layers_3", "attention", "q_proj", "kernel")
    -> ("wav2vec2.encoder.layers.3.attention.q_proj.weight", DENSE)."""
    parts = [
        p.replace("layers_", "layers.") if p.startswith(("layers_", "conv_layers_")) else p
        for p in path
    ]
    parts = [p.replace("conv_layers_", "conv_layers.") for p in parts]
    leaf = parts[-1]
    if leaf == "masked_spec_embed":
        return ".".join(parts), COPY
    if leaf in ("layer_norm_scale", "layer_norm_bias"):  # group norm of conv layer 0
        return ".".join([*parts[:-1], "layer_norm", _LEAF[leaf.split("_")[-1]]]), COPY
    if path[-2] == "pos_conv_embed":
        base = ".".join([*parts[:-1], "conv"])
        kind = {"weight_v": WN_V, "weight_g": WN_G, "bias": COPY}[leaf]
        return f"{base}.{leaf}", kind
    if path[-2] == "pos_learned":
        return ".".join(parts), COPY
    kind = COPY
    if leaf == "kernel":
        kind = CONV if path[-2] == "conv" else DENSE
    return ".".join([*parts[:-1], _LEAF[leaf]]), kind


def to_torch_layout(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == DENSE:
        return x.T
    if kind in (CONV, WN_V):  # [K, in, out] -> [out, in, K]
        return np.transpose(x, (2, 1, 0))
    if kind == WN_G:
        return x.reshape(1, 1, -1)
    return x


def from_torch_layout(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == DENSE:
        return x.T
    if kind in (CONV, WN_V):
        return np.transpose(x, (2, 1, 0))
    if kind == WN_G:
        return x.reshape(-1)
    return x


# Legacy and current spellings of the positional conv's weight norm.
WN_ALIASES = {
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
}


def canonical_hf_key(key: str) -> str:
    for new, old in WN_ALIASES.items():
        key = key.replace(new, old)
    return key
