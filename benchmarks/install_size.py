"""Disk size of a fresh virtual environment holding onecycle's base install, against one holding an
earlier release's dependencies (given as a folder or requirement), and what importing onecycle with
no backend installed prints.

    python benchmarks/install_size.py --earlier /path/to/onecycle-0.1.0 --json docs/benchmarks/install_size.json
"""

import argparse
import os
import subprocess
import sys
import tempfile

from stored_output import StoredOutput

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _size_mb(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total / 2**20


def _venv(target, requirement):
    subprocess.run([sys.executable, "-m", "venv", target], check=True)
    pip = os.path.join(target, "bin", "pip")
    subprocess.run([pip, "install", "-q", requirement], check=True, capture_output=True)
    listed = subprocess.run(
        [pip, "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    return _size_mb(target), sorted(line.split("==")[0] for line in listed.split())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--earlier", required=True, help="folder or requirement of the release to compare with"
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    out = StoredOutput(args.json)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "venv", os.path.join(folder, "empty")], check=True)
        empty = _size_mb(os.path.join(folder, "empty"))
        base, base_packages = _venv(os.path.join(folder, "base"), ROOT)
        earlier, earlier_packages = _venv(os.path.join(folder, "earlier"), args.earlier)
        python = os.path.join(folder, "base", "bin", "python")
        imported = subprocess.run([python, "-c", "import onecycle"], capture_output=True, text=True)
    error = imported.stderr.strip().splitlines()[-1] if imported.returncode else "imported"
    out.line("| environment | size (MB) | packages |")
    out.line("|---|---|---|")
    out.line(f"| empty virtual environment | {empty:.0f} | - |")
    out.line(f"| `pip install onecycle` (this version, no extras) | {base:.0f} | {len(base_packages)} |")
    out.line(f"| `pip install onecycle` (earlier release) | {earlier:.0f} | {len(earlier_packages)} |")
    out.line()
    out.line(f"`import onecycle` with no backend installed: `{error}`")
    out.save(
        empty_mb=empty,
        base_mb=base,
        earlier_mb=earlier,
        base_packages=base_packages,
        earlier_packages=earlier_packages,
        import_error=error,
    )


if __name__ == "__main__":
    main()
