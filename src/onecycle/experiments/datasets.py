"""The bundled datasets of the experiments, one registry by name, split and standardized the same
way (a user's own arrays and files: `own_data`).

Each loader returns raw `(x_train, y_train), (x_test, y_test)` and a note on where the data came from;
`load` carves a validation split from the training data with a fixed seed and standardizes inputs with
statistics of the training split only.
"""

import dataclasses
import gzip
import os
import pickle
import struct
import zipfile

import numpy as np

from onecycle.experiments.errors import DatasetError

FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
DATA_DIR_ENV = "ONECYCLE_DATA_DIR"


@dataclasses.dataclass
class Dataset:
    name: str
    task: str  # "classification" or "regression"
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    num_classes: int = 0
    # (mean, std) of a user's regression target on the training rows: the harness trains on it
    # standardized and reports in its units (see `models.build`, `runner.compile_for`); None: raw
    target_scale: tuple | None = None

    @property
    def metric(self):
        return "accuracy" if self.task == "classification" else "rmse"

    def sizes(self):
        return {"train": len(self.x_train), "val": len(self.x_val), "test": len(self.x_test)}


def _check_shape(path, array, expected):
    """`expected` is a shape with None for any length."""
    ok = array.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, array.shape))
    if not ok:
        shown = tuple("N" if e is None else e for e in expected)
        raise DatasetError(f"Data file {path} holds an array of shape {array.shape}; expected {shown}")
    return array


def _read_idx(path):
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        _, _, ndim = struct.unpack(">HBB", raw[:4])
        shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (OSError, EOFError, struct.error, ValueError) as error:
        raise DatasetError(f"Data file {path} is not a readable IDX file: {error}") from None


def _keras_download(name, looked_in, how):
    import keras

    try:
        return getattr(keras.datasets, name).load_data(), f"keras.datasets.{name}"
    except Exception as error:  # no internet, or a broken cache
        places = ", ".join(looked_in) or "no data directory"
        raise DatasetError(
            f"{name}: not found in {places}, and keras.datasets could not download it ({type(error).__name__}). {how}"
        ) from None


def _candidate_dirs(data_dir, *subdirs):
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if not data_dir:
        return []
    return [os.path.join(data_dir, sub) for sub in subdirs]


def _find(dirs, *names):
    """The first of `dirs` that holds every file in `names`, as a list of paths, or None."""
    for directory in dirs:
        paths = [os.path.join(directory, name) for name in names]
        if all(os.path.exists(p) for p in paths):
            return paths
    return None


def load_fashion_mnist(data_dir=None):
    names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    dirs = _candidate_dirs(data_dir, "fashion-mnist", "fashion_mnist", "") + [FASHION_MNIST_SYSTEM_DIR]
    paths = _find(dirs, *names)
    if paths:
        shapes = [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
        xtr, ytr, xte, yte = (_check_shape(p, _read_idx(p), shape) for p, shape in zip(paths, shapes))
        return (xtr[..., None], ytr), (xte[..., None], yte), f"IDX files in {os.path.dirname(paths[0])}"
    how = "Install the Debian package dataset-fashion-mnist or pass --data-dir with the four IDX .gz files."
    ((xtr, ytr), (xte, yte)), source = _keras_download("fashion_mnist", dirs, how)
    return (xtr[..., None], ytr), (xte[..., None], yte), source


def _read_cifar_npz(path):
    try:
        with np.load(path) as f:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(f"Data file {path} is not a CIFAR-10 npz: {error}") from None
    shapes = [(None, 32, 32, 3), (None, 1), (None, 32, 32, 3), (None, 1)]
    xtr, ytr, xte, yte = (_check_shape(path, a, s) for a, s in zip(arrays, shapes))
    return (xtr, ytr.ravel()), (xte, yte.ravel())


def _read_cifar_batches(paths):
    """The pickled batches of `cifar-10-batches-py`, the layout keras.datasets.cifar10 downloads."""
    images, labels = [], []
    for path in paths:
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            images.append(_check_shape(path, np.asarray(batch[b"data"], np.uint8), (None, 3072)))
            labels.append(np.asarray(batch[b"labels"]))
        except (OSError, KeyError, ValueError, pickle.UnpicklingError, EOFError) as error:
            raise DatasetError(f"Data file {path} is not a CIFAR-10 batch: {error}") from None
    x = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.concatenate(labels)


def load_cifar10(data_dir=None):
    dirs = _candidate_dirs(data_dir, "cifar10", "")
    paths = _find(dirs, "cifar10_jpeg_q75.npz")
    if paths:
        return (*_read_cifar_npz(paths[0]), f"{paths[0]} (CIFAR-10, JPEG q75 rebuild)")
    batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    paths = _find([os.path.join(d, "cifar-10-batches-py") for d in dirs], *batches)
    if paths:
        return (
            _read_cifar_batches(paths[:5]),
            _read_cifar_batches(paths[5:]),
            f"{os.path.dirname(paths[0])} (Keras layout)",
        )
    how = "Pass --data-dir with cifar10/cifar10_jpeg_q75.npz or cifar-10-batches-py/."
    ((xtr, ytr), (xte, yte)), source = _keras_download("cifar10", dirs, how)
    return (xtr, ytr.ravel()), (xte, yte.ravel()), source


def load_boston_housing(data_dir=None):
    paths = _find(_candidate_dirs(data_dir, "boston_housing", ""), "housing.data")
    if paths:
        try:
            table = np.loadtxt(paths[0], dtype=np.float64)
        except ValueError as error:
            raise DatasetError(f"Data file {paths[0]} is not a whitespace-separated table: {error}") from None
        _check_shape(paths[0], table, (506, 14))
        order = np.arange(len(table))
        np.random.RandomState(113).shuffle(order)  # keras.datasets.boston_housing's split
        train, test = table[order[:404]], table[order[404:]]
        return (
            (train[:, :13], train[:, 13]),
            (test[:, :13], test[:, 13]),
            f"{paths[0]} (Keras split, seed 113)",
        )
    how = "Pass --data-dir with boston_housing/housing.data."
    ((xtr, ytr), (xte, yte)), source = _keras_download(
        "boston_housing", _candidate_dirs(data_dir, "boston_housing", ""), how
    )
    return (xtr, ytr), (xte, yte), source


def load_digits(data_dir=None):
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x, y = bunch.images[..., None].astype(np.float32), bunch.target
    order = np.random.RandomState(0).permutation(len(x))
    test, train = order[:360], order[360:]
    return (x[train], y[train]), (x[test], y[test]), "scikit-learn load_digits (8x8, bundled)"


def _sklearn_table(name, describe):
    """A table bundled with scikit-learn, 20% held out for test with a fixed seed."""
    import sklearn.datasets

    x, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(x))
    n_test = int(round(0.2 * len(x)))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test]), f"scikit-learn load_{name} ({describe}, bundled)"


def load_diabetes(data_dir=None):
    return _sklearn_table("diabetes", "442 patients, 10 features, raw target")


def load_breast_cancer(data_dir=None):
    return _sklearn_table("breast_cancer", "569 tumours, 30 features, 2 classes")


def load_wine(data_dir=None):
    return _sklearn_table("wine", "178 wines, 13 features, 3 classes")


def _generated(name, x, y, describe):
    """A table drawn by a scikit-learn generator with a fixed seed, 20% held out for test."""
    order = np.random.RandomState(0).permutation(len(x))
    n_test = int(round(0.2 * len(x)))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test]), f"scikit-learn {name} ({describe}, generated offline)"


def load_friedman1(data_dir=None):
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=500, n_features=10, noise=1.0, random_state=0)
    return _generated("make_friedman1", x, y, "500 rows, 10 features, noise 1.0, random_state 0")


def load_friedman2(data_dir=None):
    from sklearn.datasets import make_friedman2

    x, y = make_friedman2(n_samples=500, noise=10.0, random_state=1)
    return _generated("make_friedman2", x, y, "500 rows, 4 features, noise 10, random_state 1, raw target")


def load_friedman3(data_dir=None):
    from sklearn.datasets import make_friedman3

    x, y = make_friedman3(n_samples=600, noise=0.1, random_state=3)
    return _generated("make_friedman3", x, y, "600 rows, 4 features, noise 0.1, random_state 3")


def load_classification3(data_dir=None):
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=1000, n_features=20, n_informative=8, n_classes=3, flip_y=0.05, random_state=2
    )
    return _generated(
        "make_classification",
        x,
        y,
        "1000 rows, 20 features (8 informative), 3 classes, flip_y 0.05, random_state 2",
    )


def load_moons(data_dir=None):
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=1000, noise=0.3, random_state=4)
    return _generated("make_moons", x, y, "1000 rows, 2 features, noise 0.3, random_state 4")


def load_hastie(data_dir=None):
    from sklearn.datasets import make_hastie_10_2

    x, y = make_hastie_10_2(n_samples=2000, random_state=5)
    return _generated("make_hastie_10_2", x, (y > 0).astype(int), "2000 rows, 10 features, random_state 5")


def load_sparse(data_dir=None):
    from sklearn.datasets import make_sparse_uncorrelated

    x, y = make_sparse_uncorrelated(n_samples=1000, n_features=10, random_state=6)
    return _generated("make_sparse_uncorrelated", x, y, "1000 rows, 10 features, random_state 6")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A dataset of the harness and how it is run by default.

    `loader(data_dir)` returns `(x_train, y_train), (x_test, y_test), source`; `val_fraction` of the
    training data becomes the validation split (fixed seed); `optimizer` and `epochs` are the
    defaults of `compare` on it (Adam for tables and SGD for images: defaults, not choices the data made; docs/RESULTS.md);
    `model`: the harness model it uses (see `models.REGISTRY`)."""

    name: str
    loader: object
    task: str
    num_classes: int
    val_fraction: float
    optimizer: str = "sgd"
    epochs: int = 20
    model: str = "cnn"


REGISTRY = {
    spec.name: spec
    for spec in (
        DatasetSpec("digits", load_digits, "classification", 10, 0.2, epochs=20),
        DatasetSpec("fashion_mnist", load_fashion_mnist, "classification", 10, 0.1, epochs=12),
        DatasetSpec("cifar10", load_cifar10, "classification", 10, 0.1, epochs=30),
        DatasetSpec("boston_housing", load_boston_housing, "regression", 0, 0.2, "adam", 200, "mlp"),
        DatasetSpec("diabetes", load_diabetes, "regression", 0, 0.2, "adam", 200, "mlp"),
        DatasetSpec("breast_cancer", load_breast_cancer, "classification", 2, 0.2, "adam", 100, "mlp"),
        DatasetSpec("wine", load_wine, "classification", 3, 0.2, "adam", 100, "mlp"),
        DatasetSpec("friedman1", load_friedman1, "regression", 0, 0.2, "adam", 200, "mlp"),
        DatasetSpec("friedman2", load_friedman2, "regression", 0, 0.2, "adam", 200, "mlp"),
        DatasetSpec("friedman3", load_friedman3, "regression", 0, 0.2, "adam", 200, "mlp"),
        DatasetSpec("classification3", load_classification3, "classification", 3, 0.2, "adam", 100, "mlp"),
        DatasetSpec("moons", load_moons, "classification", 2, 0.2, "adam", 100, "mlp"),
        DatasetSpec("hastie", load_hastie, "classification", 2, 0.2, "adam", 100, "mlp"),
        DatasetSpec("sparse", load_sparse, "regression", 0, 0.2, "adam", 200, "mlp"),
    )
}


def standardize(train, *others):
    """Images: one mean and std per channel; tables: per feature. Training statistics only."""
    axes = tuple(range(train.ndim - 1)) if train.ndim > 2 else (0,)
    mean = train.mean(axis=axes, keepdims=True)
    std = train.std(axis=axes, keepdims=True)
    std[std == 0] = 1.0
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def load(name, data_dir=None, subset=None, seed=0):
    """The named dataset, split into train/val/test and standardized.

    `subset` keeps that many training samples (and at most as many validation and test samples),
    chosen with `seed`, for quick runs.
    """
    if name not in REGISTRY:
        raise DatasetError(f"Unknown dataset {name!r}; choose one of {', '.join(REGISTRY)}")
    spec = REGISTRY[name]
    task, num_classes, val_fraction = spec.task, spec.num_classes, spec.val_fraction
    (x, y), (x_test, y_test), source = spec.loader(data_dir)
    x, x_test = x.astype(np.float64), x_test.astype(np.float64)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(x))
    n_val = int(round(val_fraction * len(x)))
    val, train = order[:n_val], order[n_val:]
    if subset is not None:
        train, val = train[:subset], val[:subset]
        test = rng.permutation(len(x_test))[:subset]
        x_test, y_test = x_test[test], y_test[test]
    x_train, x_val, x_test = standardize(x[train], x[val], x_test)
    y_dtype = np.int32 if task == "classification" else np.float32
    return Dataset(
        name=name,
        task=task,
        num_classes=num_classes,
        source=source,
        x_train=x_train,
        y_train=y[train].astype(y_dtype),
        x_val=x_val,
        y_val=y[val].astype(y_dtype),
        x_test=x_test,
        y_test=y_test.astype(y_dtype),
    )
