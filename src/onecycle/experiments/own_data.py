"""A user's own data: arrays, an `.npz` or a `.csv`, read without silent corruption and split and
standardized as the bundled datasets are (`datasets.Dataset`, `datasets.standardize`)."""

import os
import re
import warnings
import zipfile

import numpy as np

from onecycle.experiments.datasets import Dataset, standardize
from onecycle.experiments.errors import DatasetError

USER_VAL_FRACTION = 0.2  # carved from the training data of a user's file when it has no validation split
MAX_CLASSES = 50  # an integer or text target with at most this many values is a classification


def _infer_task(y, name):
    """classification for text targets and integer targets with few values, else regression."""
    if y.dtype.kind in "OUSb":
        return "classification"
    if y.dtype.kind in "iu":
        return "classification" if len(np.unique(y)) <= MAX_CLASSES else "regression"
    finite = y[np.isfinite(y)] if y.dtype.kind == "f" else y
    integral = finite.size and np.all(finite == np.round(finite))
    return "classification" if integral and len(np.unique(finite)) <= MAX_CLASSES else "regression"


def _encode_labels(name, splits):
    """Classification targets as 0..K-1, the classes taken from the training split."""
    classes = np.unique(splits[0])
    out = []
    for which, y in zip(("train", "validation", "test"), splits):
        index = np.searchsorted(classes, y)
        index = np.clip(index, 0, len(classes) - 1)
        unknown = classes[index] != y
        if np.any(unknown):
            raise DatasetError(
                f"{name}: the {which} target holds classes not in the training split: "
                f"{sorted(set(np.asarray(y)[unknown].tolist()))[:5]}"
            )
        out.append(index.astype(np.int32))
    return classes, out


def _regression_target(name, y):
    try:
        y = np.asarray(y, dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{name}: a regression target must be numeric") from None
    if not np.all(np.isfinite(y)):
        raise DatasetError(f"{name}: the target holds missing or non-finite values")
    return y.astype(np.float32)


HEAVY_TAIL = 1000.0  # interquartile ranges from the median: beyond it a value swamps its column's std
# A user's regression target whose standard deviation is outside this range trains as if
# standardized (the raw target cannot be learned in a few epochs at 2.4e5 or 2.4e12:
# tests/test_own_data.py); inside it, the raw target is kept. On the bundled tables
# (docs/benchmarks/target_scale.json) standardizing lost on Boston Housing (std 9) and diabetes (78),
# won on friedman2 (361), and was mixed on friedman1 (5) and friedman3 (0.29); the upper bound was
# set after seeing them (between 78 and 361), and no held-out table has checked it yet.
RAW_TARGET_STD = (1e-2, 1e2)


def _heavy_tailed(x):
    """Indices of the columns of a table with values beyond `HEAVY_TAIL` interquartile ranges from
    the median (a few extreme cells that would dominate the standard deviation)."""
    x = x.astype(np.float64)
    low, median, high = np.percentile(x, [25, 50, 75], axis=0)
    spread = high - low
    far = np.abs(x - median).max(axis=0)
    return [int(i) for i in np.nonzero((spread > 0) & (far > HEAVY_TAIL * spread))[0]]


def from_arrays(name, x, y, validation_data=None, test_data=None, task=None, source="arrays", seed=0):
    """A `Dataset` from a user's arrays: validation carved from training (`USER_VAL_FRACTION`, fixed
    seed) when not given, test optional (empty when not given), inputs standardized with training
    statistics, classification labels mapped to 0..K-1."""
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if x.ndim < 2 or len(x) != len(y) or y.ndim != 1:
        raise DatasetError(
            f"{name}: x must hold one row per sample and y one value per sample. Received: x {x.shape}, y {y.shape}"
        )
    if len(x) < MIN_ROWS:
        raise DatasetError(f"{name}: at least {MIN_ROWS} samples are needed. Received: {len(x)}")
    task = task or _infer_task(y, name)
    if task not in ("classification", "regression"):
        raise DatasetError(f"{name}: task must be classification or regression. Received: {task!r}")
    if validation_data is None:
        train_rows, val_rows = _split_rows(y, task, seed)
        validation_data = (x[val_rows], y[val_rows])
        x, y = x[train_rows], y[train_rows]
    x_val, y_val = (np.asarray(a) for a in validation_data)
    x_test, y_test = (np.asarray(a) for a in test_data) if test_data is not None else (x[:0], y[:0])
    y_val, y_test = (a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a for a in (y_val, y_test))
    for which, (a, b) in (("validation", (x_val, y_val)), ("test", (x_test, y_test))):
        if a.shape[1:] != x.shape[1:] or len(a) != len(b):
            raise DatasetError(f"{name}: {which} x {a.shape} / y {b.shape} do not match training x {x.shape}")
    for which, a in (("x_train", x), ("x_val", x_val), ("x_test", x_test)):
        if a.dtype.kind not in "iufb" or not np.all(np.isfinite(a.astype(np.float64))):
            raise DatasetError(f"{name}: {which} must be numeric and finite")
    num_classes, target_scale = 0, None
    if task == "classification":
        if len(np.unique(y)) < 2:
            raise DatasetError(
                f"{name}: a classification needs at least 2 classes in the training split; "
                f"it holds only {np.unique(y).tolist()}"
            )
        classes, (y, y_val, y_test) = _encode_labels(name, (y, y_val, y_test))
        num_classes = max(2, len(classes))
    else:
        y, y_val, y_test = (_regression_target(name, a) for a in (y, y_val, y_test))
        mean, std = float(np.mean(y)), float(np.std(y))
        if std > 0 and not RAW_TARGET_STD[0] <= std <= RAW_TARGET_STD[1]:
            target_scale = (mean, std)
            source = (
                f"{source}; target standardized for training (mean {mean:.6g}, std {std:.6g}: outside "
                f"{RAW_TARGET_STD[0]:g}-{RAW_TARGET_STD[1]:g}), metrics in its own units"
            )
        else:
            source = f"{source}; target raw (std {std:.6g})"
    heavy = _heavy_tailed(x) if x.ndim == 2 else []
    if heavy:
        note = (
            f"column(s) {', '.join(map(str, heavy))} of x have a few values over {HEAVY_TAIL:g} interquartile "
            "ranges from the median: standardizing by the standard deviation squeezes their other values "
            "together; clip or transform them first"
        )
        warnings.warn(f"{name}: {note}", stacklevel=2)
        source = f"{source}; warning: {note}"
    x, x_val, x_test = standardize(*(a.astype(np.float64) for a in (x, x_val, x_test)))
    return Dataset(
        name=name,
        task=task,
        num_classes=num_classes,
        source=source,
        x_train=x,
        y_train=y,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        target_scale=target_scale,
    )


def _load_npz(path, name, task):
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(f"--data: {path} is not a readable .npz file: {error}") from None
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise DatasetError(
            f"--data: {path} holds no {' or '.join(missing)} (it holds {', '.join(arrays) or 'nothing'})"
        )
    pairs = {}
    for split in ("val", "test"):
        have = [k in arrays for k in (f"x_{split}", f"y_{split}")]
        if any(have) and not all(have):
            raise DatasetError(f"--data: {path} holds only one of x_{split} and y_{split}")
        pairs[split] = (arrays[f"x_{split}"], arrays[f"y_{split}"]) if all(have) else None
    return from_arrays(
        name, arrays["x_train"], arrays["y_train"], pairs["val"], pairs["test"], task, source=path
    )


MISSING_MARKERS = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "?")
MAX_CATEGORIES = 50  # a text column with more distinct values (IDs, dates, free text) is refused
MIN_ROWS = 10  # a table needs at least this many rows: a training and a validation split of some size
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def _lines(rows, limit=5):
    """File line numbers (the header is line 1) of `rows`, a boolean mask over the data rows."""
    found = (np.nonzero(np.asarray(rows))[0] + 2).tolist()
    return ", ".join(map(str, found[:limit])) + (
        f" and {len(found) - limit} more" if len(found) > limit else ""
    )


def _read_csv(path):
    """The table as a pandas DataFrame of text cells, missing markers as NaN, header checked."""
    import csv

    import pandas as pd

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(i, r) for i, r in enumerate(csv.reader(f), start=1) if any(cell.strip() for cell in r)]
        header = rows[0][1] if rows else []
        for line, row in rows[1:]:
            if len(row) != len(header):
                raise DatasetError(
                    f"--data: {path} line {line} has {len(row)} fields; the header has {len(header)}"
                )
        frame = pd.read_csv(
            path,
            dtype=str,
            na_values=list(MISSING_MARKERS),
            keep_default_na=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
            skip_blank_lines=True,
        )
    except (OSError, UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        message = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise DatasetError(f"--data: {path} is not a readable CSV file: {message}") from None
    header = [h.strip() for h in header]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise DatasetError(f"--data: {path} names more than one column {', '.join(map(repr, duplicates))}")
    frame.columns = header
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.replace(list(MISSING_MARKERS), np.nan)
    if len(frame) < 2:
        raise DatasetError(f"--data: {path} needs a header row and at least 2 data rows")
    return frame


def _numeric_column(path, name, column):
    """The column as floats, or None when it is text. A column of numbers with a few cells that are
    not numbers, or written with thousands separators, is an error naming the column and the rows."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    present = column.notna().to_numpy()
    bad = present & values.isna().to_numpy()
    if not bad.any():
        return values.to_numpy(dtype=np.float64)
    text = column[present]
    if text.map(lambda v: bool(_THOUSANDS.match(v))).any():
        raise DatasetError(
            f"--data: column {name!r} of {path} holds numbers written with thousands separators "
            f"(e.g. {text[text.map(lambda v: bool(_THOUSANDS.match(v)))].iloc[0]!r}, line(s) "
            f"{_lines(column.map(lambda v: isinstance(v, str) and bool(_THOUSANDS.match(v))))}); remove the separators"
        )
    if bad.sum() <= 0.1 * present.sum():  # mostly numbers: a stray cell, not a text column
        raise DatasetError(
            f"--data: column {name!r} of {path} is numeric but line(s) {_lines(bad)} hold "
            f"{', '.join(repr(v) for v in column[bad].unique()[:3])}; fix or remove those cells"
        )
    return None


def _load_csv(path, name, target, task, seed):
    frame = _read_csv(path)
    header = list(frame.columns)
    if target is None:
        raise DatasetError(
            f"--target: a CSV needs the name of its target column (one of {', '.join(header)})"
        )
    if target not in header:
        raise DatasetError(f"--target: {target!r} is not a column of {path} (columns: {', '.join(header)})")
    if len(frame) < MIN_ROWS:
        raise DatasetError(f"--data: {path} has {len(frame)} data rows; at least {MIN_ROWS} are needed")
    missing = frame.isna().to_numpy()
    if missing.any():
        column = header[int(np.nonzero(missing.any(axis=0))[0][0])]
        raise DatasetError(
            f"--data: column {column!r} of {path} has missing values ({', '.join(MISSING_MARKERS[1:])} or empty) "
            f"on line(s) {_lines(frame[column].isna())}; fill or drop them first"
        )
    raw_y = frame[target]
    numeric_y = _numeric_column(path, target, raw_y)
    y = numeric_y if numeric_y is not None else raw_y.to_numpy(dtype=str)
    if numeric_y is not None and np.all(numeric_y == np.round(numeric_y)):
        y = numeric_y.astype(np.int64)
    task = task or _infer_task(y, name)
    train_rows, val_rows = _split_rows(y, task, seed)
    features, notes = [], []
    for column_name in header:
        if column_name == target:
            continue
        column = frame[column_name]
        values = _numeric_column(path, column_name, column)
        if values is not None:
            features.append(values[:, None])
            continue
        if _dates(column):
            raise DatasetError(
                f"--data: column {column_name!r} of {path} holds dates (e.g. {column.iloc[0]!r}); the reader "
                "does not encode them: drop the column or turn it into numbers yourself"
            )
        categories = sorted(set(column.iloc[train_rows]))
        distinct = len(set(column))
        if distinct > MAX_CATEGORIES or (distinct == len(column) and distinct >= MIN_ROWS):
            raise DatasetError(
                f"--data: column {column_name!r} of {path} is text with {distinct} distinct values "
                f"(e.g. {column.iloc[0]!r}: an ID, a date or free text?); at most {MAX_CATEGORIES} are one-hot "
                "encoded: drop the column or encode it yourself"
            )
        codes = np.array([categories.index(v) if v in categories else -1 for v in column])
        features.append((codes[:, None] == np.arange(len(categories))[None, :]).astype(np.float64))
        notes.append(f"{column_name!r} one-hot ({len(categories)} categories)")
    if not features:
        raise DatasetError(f"--data: {path} has no feature column besides the target {target!r}")
    x = np.concatenate(features, axis=1)
    described = "numeric columns standardized" + (f"; {', '.join(notes)}" if notes else "")
    return from_arrays(
        name,
        x[train_rows],
        y[train_rows],
        (x[val_rows], y[val_rows]),
        None,
        task,
        source=f"{path} (target {target!r}; {described})",
    )


_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?$")


def _dates(column):
    """True when every cell of a text column is written as a date (2024-01-31, 31/01/2024, ...)."""
    return bool(column.map(lambda v: bool(_DATE.match(v))).all())


def _split_rows(y, task, seed):
    """Training and validation rows (`USER_VAL_FRACTION`, fixed seed); stratified for a
    classification, so that every class with at least 2 rows is in both splits."""
    rng = np.random.RandomState(seed)
    if task != "classification":
        order = rng.permutation(len(y))
        n_val = max(1, int(round(USER_VAL_FRACTION * len(y))))
        return order[n_val:], order[:n_val]
    train, val = [], []
    for value in np.unique(y):
        rows = rng.permutation(np.nonzero(y == value)[0])
        n_val = int(round(USER_VAL_FRACTION * len(rows))) if len(rows) > 1 else 0
        n_val = max(n_val, 1) if len(rows) > 1 else 0
        val += rows[:n_val].tolist()
        train += rows[n_val:].tolist()
    return rng.permutation(train), rng.permutation(val)


def is_table_file(path):
    """True for a .csv, or an .npz whose x_train is a 2-D table (read without loading the arrays)."""
    if path.endswith(".csv"):
        return True
    try:
        with np.load(path, allow_pickle=False, mmap_mode="r") as f:
            return "x_train" in f.files and f["x_train"].ndim == 2
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return True  # the file's problem is reported when it is loaded


def load_file(path, target=None, task=None, seed=0):
    """A user's `.npz` (`x_train`, `y_train`, optionally `x_val`/`y_val`, `x_test`/`y_test`) or `.csv`
    (a header row; `target` names the target column) as a `Dataset`."""
    if not os.path.isfile(path):
        raise DatasetError(f"--data: {path!r} is not a file")
    name = os.path.splitext(os.path.basename(path))[0]
    if path.endswith(".npz"):
        if target is not None:
            raise DatasetError(
                "--target: only for a .csv file; an .npz names its arrays x_train, y_train, ..."
            )
        return _load_npz(path, name, task)
    if path.endswith(".csv"):
        return _load_csv(path, name, target, task, seed)
    raise DatasetError(f"--data: {path!r} must be a .npz or .csv file")
