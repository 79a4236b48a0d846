"""The project's errors: one base class, so the CLI shows ours as one sentence and lets
every other exception (a bug, jax's own errors) keep its traceback.

Each subclass also derives from the builtin that fits (ValueError, FileNotFoundError, ...),
so callers that catch those keep working.
"""


class W2V2JaxError(Exception):
    """An error the user can act on; its message names the file, key or example and what
    to do."""


class ConfigError(W2V2JaxError, ValueError):
    """A configuration that cannot run; raised before anything is compiled or written."""


class UsageError(W2V2JaxError, ValueError):
    """A command line that asks for something the command cannot do."""


class DataError(W2V2JaxError, FileNotFoundError):
    """A dataset folder, split or file that is missing or unreadable."""


class WorkdirError(W2V2JaxError, ValueError):
    """A workdir whose contents do not fit the run asked for; nothing in it is changed."""


class TrainingError(W2V2JaxError, RuntimeError):
    """The run cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""
