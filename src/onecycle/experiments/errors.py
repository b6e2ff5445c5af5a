"""The harness's errors: each a one-line message that the `onecycle` command prints with exit 2.

Kept apart from the modules that raise them, so that the command can catch them without loading a
Keras backend."""


class ConfigError(ValueError):
    """A bad option: the message names the option and the value."""


class DatasetError(ValueError):
    """A dataset that is missing or malformed; the message says where it looked and what to do."""


class ModelError(ValueError):
    """A `--model` that cannot be loaded or does not build a model; the message says which."""


class CorruptRunError(ValueError):
    """A run file that exists but cannot be read back."""


USER_ERRORS = (ConfigError, DatasetError, ModelError, CorruptRunError)
