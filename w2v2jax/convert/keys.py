"""The map between our parameter paths and transformers' state-dict keys.

One table in both directions: `ours_to_hf(path)` gives the HF key and how the array is laid
out there; the readers invert it by running it over every path of a freshly built tree.
"""

import dataclasses

import numpy as np

from w2v2jax.errors import CheckpointError
from w2v2jax.models.config import Wav2Vec2Config

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
    if leaf in ("masked_spec_embed", "codevectors"):
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


def torch_shape(shape: tuple[int, ...], kind: str) -> tuple[int, ...]:
    """The shape that an array of our `shape` has on the torch side."""
    if kind == DENSE or kind in (CONV, WN_V):  # a transpose, or [K, in, out] -> [out, in, K]
        return tuple(reversed(shape))
    if kind == WN_G:
        return (1, 1, *shape)
    return tuple(shape)


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


# Fields whose value sizes a tensor: a zero or negative one cannot describe a checkpoint.
_SIZES = {
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "num_conv_pos_embeddings",
    "num_conv_pos_embedding_groups",
    "conv_dim",
    "conv_stride",
    "conv_kernel",
}


def check_field_types(hf_cfg: dict, source: str) -> None:
    """Raises CheckpointError naming the first config.json field whose value is not of its
    field's kind (an int, a number, a bool, a string, a list of ints) or, for a size, not
    positive; a bad value would otherwise fail deep inside the model."""
    for field in dataclasses.fields(Wav2Vec2Config):
        if field.name not in hf_cfg:
            continue
        value, default = hf_cfg[field.name], field.default
        values = value if isinstance(value, list) and isinstance(default, tuple) else [value]
        # An empty tuple default says nothing of its items' kind: lists of ints, as the rest.
        kind = (
            (type(default[0]) if default else int) if isinstance(default, tuple) else type(default)
        )
        ok = isinstance(value, list) or not isinstance(default, tuple)
        for v in values:
            ok &= isinstance(v, kind) or (kind is float and isinstance(v, int))
            ok &= not isinstance(v, bool) or kind is bool
            ok &= field.name not in _SIZES or (isinstance(v, int) and v > 0)
        if not ok:
            what = {int: "an integer", float: "a number", bool: "true or false"}.get(
                kind, "a string"
            )
            what = "a list of integers" if isinstance(default, tuple) else what
            what += " > 0" if field.name in _SIZES else ""
            raise CheckpointError(
                f"{source}: {field.name} is {value!r}, expected {what}; fix the file or save "
                "the model again with save_pretrained"
            )
