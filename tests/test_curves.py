import numpy as np
import pytest
from keras import ops

from onecycle.curves import NUMPY_OPS, SCALAR_OPS, piecewise


def _both(steps, *args):
    """The NumPy values, checked against keras.ops (float32) and the one-number path."""
    numpy_values = piecewise(np.asarray(steps), *args, dtype="float64", xp=NUMPY_OPS)
    keras_values = ops.convert_to_numpy(piecewise(np.asarray(steps), *args))
    np.testing.assert_allclose(keras_values, numpy_values, rtol=1e-6)
    scalar_values = [piecewise(float(step), *args, dtype=None, xp=SCALAR_OPS) for step in steps]
    np.testing.assert_allclose(scalar_values, numpy_values, rtol=1e-12)
    return numpy_values


def test_linear_phases_hand_typed():
    values = _both(np.arange(-1, 8), [2.0, 4.0, 6.0], [1.0, 3.0, 1.0, 0.5], ["linear"] * 3)
    np.testing.assert_allclose(values, [1.0, 1.0, 2.0, 3.0, 2.0, 1.0, 0.75, 0.5, 0.5])


def test_cosine_phase_hand_typed():
    values = _both([0, 1, 2, 3, 4], [4.0], [1.0, 0.0], ["cosine"])
    np.testing.assert_allclose(values, [1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0], atol=1e-7)


def test_exponential_phase_is_geometric():
    values = _both([0, 1, 2, 3], [3.0], [1e-3, 1.0], ["exponential"])
    np.testing.assert_allclose(values, [1e-3, 1e-2, 1e-1, 1.0], rtol=1e-6)


def test_fractional_and_zero_length_phases():
    # a zero-length middle phase is skipped; fractional boundaries interpolate between steps
    values = _both([0, 1, 2, 3], [1.5, 1.5, 3.0], [0.0, 3.0, 100.0, 0.0], ["linear"] * 3)
    np.testing.assert_allclose(values, [0.0, 2.0, 100 * (1 - 0.5 / 1.5), 0.0])


@pytest.mark.parametrize("step", [10, 1e3, 1e6])
def test_never_extrapolates(step):
    assert _both([step], [2.0, 4.0], [1.0, 5.0, 0.1], ["linear", "cosine"])[0] == pytest.approx(0.1)


def test_sqrt_phase_is_the_one_minus_sqrt_cooldown():
    # from 2 to 0 over 4 steps: 2 * (1 - sqrt(t / 4))
    values = _both([0, 1, 2, 4, 5], [4.0], [2.0, 0.0], ["sqrt"])
    np.testing.assert_allclose(values, [2.0, 1.0, 2.0 * (1 - 0.5**0.5), 0.0, 0.0], atol=1e-7)
    # from 2 to 1: 2 * (1 - sqrt(t / 4)) + 1 * sqrt(t / 4)
    values = _both([0, 1, 4], [4.0], [2.0, 1.0], ["sqrt"])
    np.testing.assert_allclose(values, [2.0, 1.5, 1.0], rtol=1e-6)


def test_numpy_steps_are_read_at_the_dtype_computed_in():
    """float64 steps asked for in float32 give what float32 steps give (the curve is computed in the
    dtype asked for, as in a compiled train step), not a float64 curve rounded at the end."""
    steps = np.linspace(0, 10, 1001)
    curve = ([3.0, 10.0], [0.01, 0.1, 0.0], ["linear", "cosine"])
    wide = piecewise(steps, *curve, "float32", NUMPY_OPS)
    assert wide.dtype == np.float32
    np.testing.assert_array_equal(wide, piecewise(steps.astype(np.float32), *curve, "float32", NUMPY_OPS))
    rounded = piecewise(steps, *curve, "float64", NUMPY_OPS).astype(np.float32)
    assert np.any(wide != rounded)  # the two differ here, so the first check can fail


def test_a_step_on_a_boundary_belongs_to_the_phase_it_ends():
    """OneCycleLR's rule: a step takes the first phase whose end it does not pass. At the end of an
    exponential phase from 0.3 to 0.7, that phase gives 0.3 * (0.7 / 0.3) = 0.7000000000000001, the
    next (linear) phase would start at 0.7 exactly: the boundary step takes the first."""
    value = piecewise(
        np.array([4.0]), [4.0, 8.0], [0.3, 0.7, 0.1], ["exponential", "linear"], "float64", NUMPY_OPS
    )
    assert value[0] == 0.3 * (0.7 / 0.3) and value[0] != 0.7


def test_keras_ops_curve_comes_back_in_the_dtype_asked_for():
    # float16: a dtype every backend has (JAX has no float64 unless told) and not Keras' floatx
    curve = piecewise(ops.arange(5), [2.0, 4.0], [0.1, 1.0, 0.0], ["linear", "cosine"], "float16")
    assert ops.convert_to_numpy(curve).dtype == np.float16
    np.testing.assert_allclose(ops.convert_to_numpy(curve), [0.1, 0.55, 1.0, 0.5, 0.0], rtol=2e-3, atol=1e-3)
