"""onecycle: the learning-rate range test and the 1cycle policy for Keras 3."""

from onecycle import optimizers
from onecycle.schedules import OneCycle, Piecewise

__all__ = ["OneCycle", "Piecewise", "optimizers"]
__version__ = "0.1.0"
