"""The project's errors: one base class, so the CLI shows ours as one sentence and lets
every other exception (a bug, jax's own errors) keep its traceback.

Each subclass also derives from the builtin that fits (ValueError, FileNotFoundError, ...),
so callers that catch those keep working. Dependency-free: every package may import it.
"""


class W2V2JaxError(Exception):
    """An error the user can act on; its message names the file, key or example and what
    to do."""


class ConfigError(W2V2JaxError, ValueError):
    """A configuration that cannot run; raised before anything is compiled or written."""


class UsageError(W2V2JaxError, ValueError):
    """A command line that asks for something the command cannot do."""


class InputError(W2V2JaxError, ValueError):
    """An input that cannot be processed: audio, a transcript, an argument's value."""


class AudioError(InputError):
    """Audio that cannot be read or used; the message names the file."""


class DataError(W2V2JaxError, ValueError):
    """A dataset, manifest or example that is malformed; the message names it."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset folder, split or file that is missing."""


class DatasetExistsError(W2V2JaxError, FileExistsError):
    """A folder that already holds something other than the dataset asked for."""


class CheckpointError(W2V2JaxError, ValueError):
    """A checkpoint (ours, transformers' or fairseq's) that cannot be read or converted."""


class WorkdirError(W2V2JaxError, ValueError):
    """A workdir whose contents do not fit the run asked for; nothing in it is changed."""


class SetupError(W2V2JaxError, RuntimeError):
    """A missing or failing external tool (flite, espeak-ng); the message says how to
    install it."""


class TrainingError(W2V2JaxError, RuntimeError):
    """The run cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""
