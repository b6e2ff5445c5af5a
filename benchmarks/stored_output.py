"""What a benchmark prints, also stored: `--json PATH` keeps the command, the markdown it printed and
its raw figures, so that the docs' tables are generated from the stored file (`onecycle docs`)."""

import json
import os
import sys


class StoredOutput:
    def __init__(self, path):
        self.path, self.lines = path, []

    def line(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def save(self, **data):
        if not self.path:
            return
        record = {"command": " ".join(["python", *sys.argv]), "table": "\n".join(self.lines).strip(), **data}
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, self.path)
