"""The experiment harness: `compare` on your own model and data, and the `onecycle` command."""

__all__ = ["ComparisonResult", "compare"]


def __getattr__(name):  # imported on first use: `onecycle --help` loads no backend
    if name in __all__:
        from onecycle.experiments import api

        return getattr(api, name)
    raise AttributeError(f"module 'onecycle.experiments' has no attribute {name!r}")
