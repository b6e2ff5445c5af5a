"""Files written whole or not at all: a temporary file, then a rename."""

import json
import os
from collections.abc import Callable


def write_atomically(path: str | os.PathLike, write: Callable[[str], None], suffix: str = ".tmp") -> None:
    """`write(tmp)` to a temporary file beside `path`, then rename it to `path`; on any failure the
    temporary file is removed and `path` is untouched."""
    tmp = f"{path}{suffix}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json_atomically(path: str | os.PathLike, record: dict, **dump_kwargs) -> None:
    """Write `record` as JSON at `path`, whole or not at all."""

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(record, f, **dump_kwargs)

    write_atomically(path, write)
