"""Files written whole or not at all: a temporary file, then a rename."""

import json
import os


def write_json_atomically(path: str | os.PathLike, record: dict) -> None:
    """Write `record` as JSON at `path`; on any failure the temporary file is removed and `path` is untouched."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
