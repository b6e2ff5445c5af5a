"""An endless stream of training batches from whatever `model.fit` accepts, and its length per epoch."""

import math

import keras
import numpy as np


def _is_tf_dataset(x):
    return hasattr(x, "as_numpy_iterator") and hasattr(x, "cardinality")


def _num_samples(x):
    first = keras.tree.flatten(x)[0]
    return len(first)


def _array_batches(x, y, sample_weight, batch_size, seed):
    n = _num_samples(x)
    rng = np.random.default_rng(seed)
    take = lambda data, idx: None if data is None else keras.tree.map_structure(lambda a: np.asarray(a)[idx], data)
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
    if _num_samples(x) == 0:
        raise ValueError(f"Argument `x` holds no samples. Received: x with shape {np.shape(keras.tree.flatten(x)[0])}")
    return _array_batches(x, y, sample_weight, batch_size, seed)


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
        train_samples = int(math.floor(_num_samples(x) * (1.0 - validation_split)))
        return math.ceil(train_samples / batch_size)
    return len(x) if hasattr(x, "__len__") else None
