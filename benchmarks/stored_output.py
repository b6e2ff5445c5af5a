"""What a benchmark prints, also stored: `--json PATH` keeps the command, the markdown it printed,
its raw figures and the machine and library versions it ran with (the harness's one atomic writer)."""

import os
import sys

import benchmark_tables
from onecycle.experiments import storage


class StoredOutput:
    def __init__(self, path):
        self.path, self.lines = path, []

    def line(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def save_figures(self, **data):
        """Print the tables `benchmark_tables` computes from `data` (a record of one of its kinds),
        and store `data` with them."""
        for line in benchmark_tables.render(data).splitlines():
            self.line(line)
        self.save(**data)

    def save(self, **data):
        if not self.path:
            return
        record = {
            "command": " ".join(["python", *sys.argv]),
            "table": "\n".join(self.lines).strip(),
            **data,
            "environment": storage.environment(),
        }
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        storage.write_json(self.path, record)
