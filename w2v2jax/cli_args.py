"""Command-line parsing that ends in one sentence, not a traceback.

absl and ml_collections report a misspelled `--config.FIELD` as an AttributeError traceback
and a config path relative to another folder as an OSError; the README's commands name
`w2v2jax/configs/ctc.py`, which only exists relative to the checkout.
"""

import os
import sys

from absl import flags

from w2v2jax import configs

BUILTIN_PREFIX = "w2v2jax/configs/"


def resolve_config(argv: list[str]) -> list[str]:
    """argv with `--config=w2v2jax/configs/NAME.py[:ARG]` pointed at the installed package's
    file when the path does not exist from the current folder."""
    out = []
    for a in argv:
        if a.startswith("--config=") and "=" in a:
            path, sep, arg = a[len("--config=") :].partition(":")
            if not os.path.exists(path) and path.startswith(BUILTIN_PREFIX):
                name = os.path.splitext(path[len(BUILTIN_PREFIX) :])[0]
                try:
                    path = configs.path(name)
                except FileNotFoundError as e:
                    fail(argv, str(e))
            elif not os.path.exists(path):
                fail(argv, f"--config: no file {path} (looked in {os.getcwd()})")
            a = f"--config={path}{sep}{arg}"
        out.append(a)
    return out


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing with every error as one sentence (for app.run's flags_parser)."""
    try:
        return flags.FLAGS(resolve_config(argv))
    except flags.Error as e:
        fail(argv, _own_message(e) or str(e))
    except AttributeError as e:  # ml_collections: an override of a field that does not exist
        field = str(e).strip("\"'")
        fail(
            argv,
            f"the config has no field {field!r}: check the spelling of --config.{field}... "
            "(`w2v2jax train --help` lists the fields)",
        )
    except (KeyError, TypeError, ValueError, SyntaxError, OSError) as e:
        fail(argv, f"cannot read the config or an override ({type(e).__name__}: {e})")


def _own_message(e: BaseException) -> str | None:
    """The message of a project error raised while absl loaded the config file: absl and
    ml_collections wrap it (traceback text included), so the innermost one is ours."""
    from w2v2jax.errors import W2V2JaxError

    found, seen = None, set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, W2V2JaxError):
            found = str(e)
        e = e.__cause__ or e.__context__
    return found


def fail(argv, message: str):
    command = argv[1] if len(argv) > 1 else ""
    print(f"w2v2jax {command}: error: {message}", file=sys.stderr)
    sys.exit(1)
