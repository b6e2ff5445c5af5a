"""An endless stream of training batches from whatever `model.fit` accepts, and its length per epoch."""

import math

import keras
import numpy as np


def _is_tf_dataset(x):
    return hasattr(x, "as_numpy_iterator") and hasattr(x, "cardinality")


def num_samples(x):
    """The number of samples (rows) of an array or a structure of arrays: the first leaf's length."""
    first = keras.tree.flatten(x)[0]
    return len(first)


def _array_batches(x, y, sample_weight, batch_size, seed):
    n = num_samples(x)
    rng = np.random.default_rng(seed)
    take = lambda data, idx: (
        None if data is None else keras.tree.map_structure(lambda a: np.asarray(a)[idx], data)
    )
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield take(x, idx), take(y, idx), take(sample_weight, idx)


def _as_triple(element):
    if isinstance(element, (tuple, list)) and 1 <= len(element) <= 3:
        return tuple(element) + (None,) * (3 - len(element))
    return element, None, None


def _iterable_batches(data):
    """Batches from a dataset-like object, started over whenever it runs out."""
    while True:
        if _is_tf_dataset(data):
            iterator = data.as_numpy_iterator()
        elif isinstance(data, keras.utils.PyDataset):
            iterator = (data[i] for i in range(data.num_batches or len(data)))
        else:
            iterator = iter(data)
        empty = True
        for element in iterator:
            empty = False
            yield _as_triple(element)
        if empty or iterator is data:  # an exhausted generator cannot start over
            return


def batches(x, y=None, sample_weight=None, *, batch_size=32, seed=None):
    """Yield `(x, y, sample_weight)` batches forever (a plain generator ends when it runs out)."""
    if _is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset) or not is_array_like(x):
        return _iterable_batches(x)
    if num_samples(x) == 0:
        raise ValueError(
            f"Argument `x` holds no samples. Received: x with shape {np.shape(keras.tree.flatten(x)[0])}"
        )
    return _array_batches(x, y, sample_weight, batch_size, seed)


def _leaves(data):
    return [np.asarray(leaf) for leaf in keras.tree.flatten(data)] if data is not None else []


def _check_finite(name, data):
    for leaf in _leaves(data):
        if np.issubdtype(leaf.dtype, np.floating):
            bad = leaf.size - np.count_nonzero(np.isfinite(leaf))
            if bad:
                raise ValueError(
                    f"Argument `{name}` must hold finite numbers. Received: {name} with {bad} NaN or infinite values"
                )


def _model_tensors(model, attribute):
    try:
        tensors = getattr(model, attribute, None)
    except (AttributeError, ValueError):  # a subclassed model that has not been called has none
        return None
    return tensors if tensors and len(tensors) == 1 else None


def _check_input_shape(model, name, x):
    inputs = _model_tensors(model, "inputs")
    leaves = _leaves(x)
    if inputs is None or len(leaves) != 1:
        return
    expected, received = tuple(inputs[0].shape[1:]), leaves[0].shape[1:]
    if len(expected) != len(received) or any(e is not None and e != r for e, r in zip(expected, received)):
        raise ValueError(
            f"Argument `{name}` must have shape (N, {', '.join(map(str, expected))}) to fit the model's input. "
            f"Received: {name} with shape {leaves[0].shape}"
        )


def _sparse_categorical(loss):
    if isinstance(loss, str):
        return loss.startswith("sparse_categorical"), None
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return True, loss.ignore_class
    return loss is keras.losses.sparse_categorical_crossentropy, None


def _check_labels(model, name, y):
    """Class labels must lie in [0, number of outputs) for a sparse categorical loss; out of range,
    TensorFlow fails deep in a kernel and JAX and PyTorch train silently on garbage."""
    sparse, ignored = _sparse_categorical(getattr(model, "loss", None))
    outputs = _model_tensors(model, "outputs")
    leaves = _leaves(y)
    if not sparse or outputs is None or len(leaves) != 1 or leaves[0].size == 0:
        return
    labels, classes = leaves[0], outputs[0].shape[-1]
    labels = labels[labels != ignored] if ignored is not None else labels
    if classes and labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"Argument `{name}` must hold class labels in [0, {classes}) for a model with {classes} outputs. "
            f"Received: labels from {labels.min()} to {labels.max()}"
        )


def check_arrays(model, x, y=None, sample_weight=None, *, names=("x", "y")):
    """Clear errors, before any step is taken, for array inputs: sample counts that differ, NaN or
    inf, a shape that does not fit the model's input, class labels out of range. Other inputs
    (datasets, generators) pass unchecked."""
    if not is_array_like(x):
        return
    n = num_samples(x)
    for name, data in ((names[1], y), ("sample_weight", sample_weight)):
        if data is not None and is_array_like(data) and num_samples(data) != n:
            raise ValueError(
                f"Argument `{name}` must hold as many samples as `{names[0]}`. "
                f"Received: {num_samples(data)} in {name}, {n} in {names[0]}"
            )
    _check_finite(names[0], x)
    _check_finite(names[1], y)
    _check_input_shape(model, names[0], x)
    _check_labels(model, names[1], y)


def check_validation_data(model, validation_data):
    """`check_arrays` on `(x_val, y_val)` tuples; datasets and generators pass unchecked."""
    if isinstance(validation_data, (tuple, list)):
        check_arrays(model, *validation_data[:2], names=("validation_data[0]", "validation_data[1]"))


def rows(arrays, start, stop):
    """Rows `start:stop` of every array of a structure (None stays None)."""
    return None if arrays is None else keras.tree.map_structure(lambda a: a[start:stop], arrays)


def is_array_like(x):
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(hasattr(leaf, "shape") and hasattr(leaf, "__len__") for leaf in leaves)


def steps_per_epoch(x, *, batch_size=32, validation_split=0.0):
    """Number of batches `model.fit` runs per epoch on `x`, or None when it cannot be known."""
    if _is_tf_dataset(x):
        cardinality = int(x.cardinality())
        return cardinality if cardinality > 0 else None
    if isinstance(x, keras.utils.PyDataset):
        return x.num_batches
    if is_array_like(x):
        train_samples = int(math.floor(num_samples(x) * (1.0 - validation_split)))
        return math.ceil(train_samples / batch_size)
    return len(x) if hasattr(x, "__len__") else None
