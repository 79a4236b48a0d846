"""Moving encoder layers between the unrolled layout (layers_0, layers_1, ...) and the
scanned layout (layers/layer with a leading L axis), so checkpoints and conversions work
whichever `scan_layers` a run uses."""

import jax
import jax.numpy as jnp


def _encoder(params):
    return params["wav2vec2"]["encoder"] if "wav2vec2" in params else params["encoder"]


def _with_encoder(params, encoder):
    if "wav2vec2" in params:
        return {**params, "wav2vec2": {**params["wav2vec2"], "encoder": encoder}}
    return {**params, "encoder": encoder}


def stack_layers(params, num_layers: int):
    enc = dict(_encoder(params))
    if "layers" in enc:
        return params
    per_layer = [enc.pop(f"layers_{i}") for i in range(num_layers)]
    enc["layers"] = {"layer": jax.tree.map(lambda *xs: jnp.stack(xs), *per_layer)}
    return _with_encoder(params, enc)


def unstack_layers(params):
    enc = dict(_encoder(params))
    if "layers" not in enc:
        return params
    stacked = enc.pop("layers")["layer"]
    n = jax.tree.leaves(stacked)[0].shape[0]
    for i in range(n):
        enc[f"layers_{i}"] = jax.tree.map(lambda x, i=i: x[i], stacked)
    return _with_encoder(params, enc)


def to_layout(params, cfg):
    """Params in the layout `cfg.scan_layers` asks for."""
    if cfg.scan_layers:
        return stack_layers(params, cfg.num_hidden_layers)
    return unstack_layers(params)
