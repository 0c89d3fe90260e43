"""Recorded runs: what a trained engine ships in ``resources/<engine>/`` and the provenance beside it.

An engine that trains ships a small recorded run (checkpoints, metrics) so that its panel shows the paper's
claim at once; one in-project command makes it (``python -m engines record NAME``), and ``provenance.json``
beside it says how: the command, seed(s), steps, wall time, the commit it ran at, and the versions used.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"


def resource_dir(engine: str) -> Path:
    """``resources/<engine>``: where an engine's recorded run lives."""
    return RESOURCES / engine


def git_commit() -> str:
    """The commit the working tree is at (with ``+dirty`` when it has uncommitted changes), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha or "unknown") + ("+dirty" if sha and dirty else "")


def write_provenance(out_dir: str | Path, command: str, **fields) -> dict:
    """Write ``provenance.json``: the command, the commit, the date, Python/torch/transformers versions, plus ``fields``."""
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "numpy"):
        mod = sys.modules.get(name)
        if mod is not None:
            versions[name] = getattr(mod, "__version__", "?")
    from engines import threads

    record = {
        "command": command,
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "versions": versions,
        "threads": threads.describe(),
        **fields,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return record


def read_provenance(out_dir: str | Path) -> dict:
    """The recorded run's ``provenance.json`` (ValueError naming the file when it is missing or malformed)."""
    path = Path(out_dir) / "provenance.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no recorded run here (make it with `python -m engines record ...`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a provenance file ({err})") from None
