"""Train state created sharded from the start: eval_shape -> shardings -> jit(init).

The state is {"params", "opt_state", "step"}; Assembly.init_state (assembly.py) jits
`boxed_state` with these shardings, so nothing is ever materialised whole on one device,
and restoring onto these shardings reshards a checkpoint from any other mesh.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.errors import ConfigError
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.train.sharding import logical_shardings, replicated

INIT_SAMPLES = SAMPLE_RATE  # any length works: no parameter depends on it


def boxed_state(model, tx, rng):
    audio = jnp.zeros((1, INIT_SAMPLES), jnp.float32)
    params = model.init({"params": rng}, audio, jnp.zeros_like(audio))["params"]
    return {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32)}


def state_shardings(model, tx, mesh, rules):
    """(abstract unboxed state with shardings attached, sharding tree)."""
    boxed = jax.eval_shape(lambda r: boxed_state(model, tx, r), jax.random.PRNGKey(0))
    shardings = logical_shardings(boxed, mesh, rules)
    shardings["step"] = replicated(mesh)
    abstract = jax.tree.map(
        lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
        nn.unbox(boxed),
        shardings,
    )
    return abstract, shardings


def param_count(params) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))


def adopt_params(state, loaded, tx, shardings, fresh_heads=()):
    """Puts pretrained params into a fresh state; a head named in `fresh_heads` (a CTC head
    of another vocabulary) that is missing or shaped otherwise keeps its fresh init.
    Returns (state, list of replaced top-level names)."""
    params = dict(state["params"])
    replaced = []
    for name, value in loaded.items():
        if name not in params:
            continue
        fresh = jax.tree.map(lambda x: x.shape, params[name])
        if jax.tree.map(lambda x: x.shape, value) != fresh:
            if name in fresh_heads:
                replaced.append(name)
                continue
            raise ConfigError(f"init_from: shapes of {name!r} differ from this model's")
        params[name] = value
    replaced += [n for n in params if n not in loaded]
    params = jax.device_put(params, shardings["params"])
    opt_state = jax.jit(tx.init, out_shardings=shardings["opt_state"])(params)
    return {**state, "params": params, "opt_state": opt_state}, replaced
