"""Training configs: python files with `get_config(arg)` returning an ml_collections
ConfigDict, one per objective (ctc.py), on the fields every run shares (common.py).

    w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --config.model.posemb=rope ...
    w2v2jax train --config="$(python -c 'from w2v2jax import configs; print(configs.path("ctc"))'):tiny"

`path(name)` finds a config file wherever the package is installed; `override(c, {...})`
sets dotted keys as `--config.KEY=VALUE` does (experiments and tests spell runs this way). The config modules are
not imported here: they import train/, which must stay free to import this package.
"""

import functools
import os

from w2v2jax.errors import ConfigError

__all__ = ["override", "path"]


def override(c, changes: dict):
    """Sets flat dotted keys ("model.posemb") as `--config.model.posemb=rope` does: only
    fields the config has (a misspelt key is an error, not a new field), each type-checked
    by ConfigDict. Returns c."""
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        try:
            node = functools.reduce(lambda d, k: d[k], parents, c)
        except KeyError:
            node = None
        if node is None or leaf not in node:
            raise ConfigError(f"{key}: the config has no such field")
        node[leaf] = value
    return c


def path(name: str) -> str:
    """The file of the built-in config `name` ("ctc"), to pass as `--config=PATH:ARG`."""
    file = os.path.join(os.path.dirname(__file__), f"{name}.py")
    if name.startswith("_") or name == "common" or not os.path.isfile(file):
        known = sorted(
            f[:-3]
            for f in os.listdir(os.path.dirname(__file__))
            if f.endswith(".py") and not f.startswith("_") and f != "common.py"
        )
        raise ConfigError(f"no built-in config {name!r}: choose one of {known}")
    return file
