"""Readers for real RL training logs, drawn with the same views as our own runs.

Formats:

- ``trl``: TRL/transformers ``trainer_state.json`` — ``{"log_history": [{"step": 1, "reward": …, "entropy": …}, …], …}``
  (``TrainerState.save_to_json``: indent 2, keys sorted);
- ``verl``: veRL's JSONL file logger (``trainer.logger=[file]``, ``verl/utils/tracking.py: FileLogger``) — one line per
  step, ``{"step": 3, "data": {"critic/score/mean": …, "actor/entropy": …}}``;
- ``own``: our ``metrics.jsonl`` — one flat object per line with ``step`` (RL) or ``sft_step`` (SFT), plus ``seed``,
  ``run``, ``phase``, ``stage`` and veRL's metric names;
- ``tensorboard``: event files, only when the optional ``tensorboard`` package is installed (a clear message otherwise).

Every metric is also reachable by a *canonical* name (:data:`CANONICAL`: ``score``, ``entropy``, ``response_length``,
``clip_ratio``, ``no_signal``, ``tokens_per_s``, ``pass1/<source>`` …) so one view draws any of the formats.
A malformed log is refused with :class:`LogError` naming the file and the line. :class:`LogFollower` reads a growing
file incrementally (JSONL from a byte offset, keeping a partial last line for the next poll; a JSON state file or
event files re-read when they change), for a panel that polls.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ReasoningError

FORMATS = ("auto", "trl", "verl", "own", "tensorboard")


class LogError(ReasoningError):
    """A log that is not in the format it claims (file and line named)."""


# canonical name → the source names that mean it (ours and veRL's first, then TRL's)
CANONICAL: dict[str, tuple[str, ...]] = {
    "score": ("critic/score/mean", "reward"),
    "entropy": ("actor/entropy", "entropy"),
    "response_length": ("response_length/mean", "completions/mean_length"),
    "clip_ratio": ("response_length/clip_ratio", "completions/clipped_ratio"),
    "no_signal": ("batch/no_signal", "frac_reward_zero_std"),
    "tokens_per_s": ("perf/throughput",),
    "loss": ("actor/pg_loss", "loss"),
    "pg_clipfrac": ("actor/pg_clipfrac", "clip_ratio/region_mean"),
    "kl": ("actor/ppo_kl", "kl"),
    "lr": ("actor/lr", "learning_rate"),
    "grad_norm": ("actor/grad_norm", "grad_norm"),
    "sft_loss": ("sft/loss",),
}
_VAL = re.compile(r"^val-core/(.+)/(acc|reward|score)/mean@(\d+)$")


def canonical(name: str) -> str | None:
    """The canonical name of a source metric (``val-core/math/acc/mean@32`` → ``pass1/math``; TRL ``eval_reward`` → ``pass1/eval``)."""
    for canon, names in CANONICAL.items():
        if name in names:
            return canon
    m = _VAL.match(name)
    if m:
        return f"pass1/{m.group(1)}"
    if name == "eval_reward":
        return "pass1/eval"
    return None


@dataclass
class LogRun:
    """The rows of one log: dicts with ``step`` (or ``sft_step``) and numbers; ``seed``/``run``/``stage`` where the log has them."""

    path: str
    format: str
    rows: list[dict] = field(default_factory=list)

    def seeds(self) -> list[int]:
        return sorted({int(r.get("seed", 0)) for r in self.rows})

    def series(self, name: str, seed: int | None = None, run: str = "main") -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a metric, by source or canonical name, over the RL rows of one seed and run."""
        sources = CANONICAL.get(name, ())
        steps, values = [], []
        for r in self.rows:
            if "step" not in r or r.get("run", "main") != run or (seed is not None and int(r.get("seed", 0)) != seed):
                continue
            v = r.get(name)
            if v is None:
                v = next((r[s] for s in sources if r.get(s) is not None), None)
            if v is None and name.startswith("pass1/"):
                v = next((x for k, x in r.items() if canonical(k) == name and x is not None), None)
            if v is not None and isinstance(v, (int, float)) and math.isfinite(v):
                steps.append(int(r["step"]))
                values.append(float(v))
        return np.array(steps, dtype=int), np.array(values, dtype=float)

    def metric_names(self) -> list[str]:
        """Every canonical name the log can draw."""
        names = set()
        for r in self.rows:
            names.update(c for c in (canonical(k) for k in r) if c)
        return sorted(names)


# ---- line sources ---------------------------------------------------------------------------------------------
class _JsonlTail:
    """Complete lines appended since the last read (a partial last line waits for its newline)."""

    def __init__(self, path: Path):
        self.path, self.offset, self.line = path, 0, 0

    def read(self) -> list[tuple[int, str]]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        out = []
        for raw in data[:end].split(b"\n")[:-1]:
            self.line += 1
            if raw.strip():
                out.append((self.line, raw.decode("utf-8", errors="replace")))
        self.offset += end
        return out


def _json_line(path: Path, line: int, text: str) -> dict:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise LogError(f"{path}: line {line}: not JSON ({err.msg})") from None
    except RecursionError:
        raise LogError(f"{path}: line {line}: JSON nested too deeply to be a log row") from None
    if not isinstance(obj, dict):
        raise LogError(f"{path}: line {line}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _step(path: Path, line: int, value, key: str = "step") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise LogError(f"{path}: line {line}: {key!r} must be a non-negative integer, got {value!r}")
    return int(value)


def _numbers(path: Path, line: int, data: dict) -> dict:
    out = {}
    for k, v in data.items():
        if isinstance(v, bool):
            out[k] = float(v)
        elif isinstance(v, (int, float)) or v is None:
            out[k] = v if v is None or math.isfinite(v) else None  # NaN / Infinity (Python's json writes them): a gap
        elif isinstance(v, str) and k in ("run", "phase", "stage", "eval"):
            out[k] = v
        elif isinstance(v, str) and v.lower() in ("nan", "inf", "-inf"):
            out[k] = None
        elif isinstance(v, (list, dict)):
            continue  # histograms, tables: not curves
        else:
            raise LogError(f"{path}: line {line}: metric {k!r} is {v!r}, not a number")
    return out


def _verl_row(path: Path, line: int, obj: dict) -> dict:
    if "step" not in obj or not isinstance(obj.get("data"), dict):
        raise LogError(f"{path}: line {line}: expected {{\"step\": N, \"data\": {{...}}}} (veRL's file logger)")
    return {"step": _step(path, line, obj["step"]), **_numbers(path, line, obj["data"])}


def _own_row(path: Path, line: int, obj: dict) -> dict:
    if "step" in obj:
        return {**_numbers(path, line, obj), "step": _step(path, line, obj["step"])}
    if "sft_step" in obj:
        return {**_numbers(path, line, obj), "sft_step": _step(path, line, obj["sft_step"], "sft_step")}
    raise LogError(f"{path}: line {line}: expected an object with 'step' or 'sft_step' (our metrics.jsonl)")


def _entry_lines(text: str, key: str = "log_history") -> list[int]:
    """Line numbers where each object of the top-level ``key`` array starts (a small JSON scanner)."""
    at = text.find(f'"{key}"')
    if at < 0:
        return []
    i = text.find("[", at)
    lines, depth, in_str, esc = [], 0, False, False
    line = text.count("\n", 0, i) + 1
    for ch in text[i:]:
        if ch == "\n":
            line += 1
        if in_str:
            esc = ch == "\\" and not esc
            if ch == '"' and not esc:
                in_str = False
            continue
        if ch == '"':
            in_str, esc = True, False
        elif ch in "[{":
            depth += 1
            if ch == "{" and depth == 2:
                lines.append(line)
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                break
    return lines


def _trl_rows(path: Path, text: str) -> list[dict]:
    try:
        state = json.loads(text)
    except json.JSONDecodeError as err:
        raise LogError(f"{path}: line {err.lineno}: not JSON ({err.msg})") from None
    except RecursionError:
        raise LogError(f"{path}: line 1: JSON nested too deeply to be TRL's trainer_state.json") from None
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise LogError(f"{path}: line 1: no 'log_history' list (expected TRL's trainer_state.json)")
    lines = _entry_lines(text)
    rows = []
    for k, entry in enumerate(state["log_history"]):
        line = lines[k] if k < len(lines) else 1
        if not isinstance(entry, dict) or "step" not in entry:
            raise LogError(f"{path}: line {line}: log_history entry {k} has no 'step'")
        rows.append({**_numbers(path, line, entry), "step": _step(path, line, entry["step"])})
    return rows


def _tensorboard_rows(path: Path) -> list[dict]:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise LogError(f"{path}: reading TensorBoard event files needs the optional 'tensorboard' package "
                       "(pip install 'paper-workbench[tensorboard]')") from None
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    try:
        acc.Reload()
    except Exception as err:  # the accumulator raises its own types for corrupt files
        raise LogError(f"{path}: line 1: not a TensorBoard event file ({err})") from None
    by_step: dict[int, dict] = {}
    for tag in acc.Tags().get("scalars", []):
        for ev in acc.Scalars(tag):
            by_step.setdefault(int(ev.step), {"step": int(ev.step)})[tag] = float(ev.value)
    return [by_step[s] for s in sorted(by_step)]


# ---- format detection ---------------------------------------------------------------------------------------------
def resolve_path(path: str | Path) -> Path:
    """A folder stands for the log inside it: trainer_state.json, metrics.jsonl, one *.jsonl, or event files."""
    p = Path(path)
    if not p.exists():
        raise LogError(f"{path}: no such file or folder")
    if p.is_file():
        return p
    for name in ("trainer_state.json", "metrics.jsonl"):
        if (p / name).is_file():
            return p / name
    jsonl = sorted(p.glob("*.jsonl"))
    if len(jsonl) == 1:
        return jsonl[0]
    if any(p.glob("events.out.tfevents*")):
        return p
    raise LogError(f"{path}: no log here (expected trainer_state.json, metrics.jsonl, a veRL .jsonl or TensorBoard event files)")


def sniff(path: Path) -> str:
    if path.is_dir() or "tfevents" in path.name:
        return "tensorboard"
    if path.suffix == ".json":
        return "trl"
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, text in enumerate(f, start=1):
            if text.strip():
                obj = _json_line(path, n, text)
                return "verl" if isinstance(obj.get("data"), dict) else "own"
    return "own"


class LogFollower:
    """Reads a log as it grows: ``poll()`` returns the rows added since the last poll (and keeps them in ``run``)."""

    def __init__(self, path: str | Path, format: str = "auto"):
        if format not in FORMATS:
            raise LogError(f"{path}: format {format!r} is unknown (allowed: {', '.join(FORMATS)})")
        self.path = resolve_path(path)
        self.format = sniff(self.path) if format == "auto" else format
        self.run = LogRun(str(self.path), self.format)
        self._tail = _JsonlTail(self.path) if self.format in ("verl", "own") else None
        self._stamp: tuple | None = None

    def _changed(self) -> bool:
        files = [self.path] if self.path.is_file() else sorted(self.path.glob("events.out.tfevents*"))
        stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True

    def poll(self) -> list[dict]:
        if self._tail is not None:
            make = _verl_row if self.format == "verl" else _own_row
            new = [make(self.path, n, _json_line(self.path, n, text)) for n, text in self._tail.read()]
        else:
            if not self._changed():
                return []
            if self.format == "trl":
                rows = _trl_rows(self.path, self.path.read_text(encoding="utf-8", errors="replace"))
            else:
                rows = _tensorboard_rows(self.path)
            new = rows[len(self.run.rows):]
            self.run.rows = rows[: len(self.run.rows)]
        self.run.rows.extend(new)
        return new


def read_log(path: str | Path, format: str = "auto") -> LogRun:
    """The whole log at ``path`` (a file, or a folder holding one) in any of :data:`FORMATS`."""
    follower = LogFollower(path, format)
    follower.poll()
    return follower.run
