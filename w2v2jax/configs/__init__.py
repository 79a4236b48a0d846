"""Training configs: python files with `get_config(arg)` returning an ml_collections
ConfigDict, one per objective (ctc.py), on the fields every run shares (common.py).

    w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --config.model.posemb=rope ...
    w2v2jax train --config="$(python -c 'from w2v2jax import configs; print(configs.path("ctc"))'):tiny"

`path(name)` finds a config file wherever the package is installed. The config modules are
not imported here: they import train/, which must stay free to import this package.
"""

import os

from w2v2jax.errors import ConfigError

__all__ = ["path"]


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
