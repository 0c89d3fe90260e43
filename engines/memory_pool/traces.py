"""Request traces: synthetic generators and loaders for real trace files.

A trace is three arrays of one length: ``arrival_s`` (sorted, starting at 0), ``input_tokens``,
``output_tokens`` (both ≥ 1). Loaders report malformed rows as ``TraceError`` naming the file and the
1-based line number; rows that are well-formed but unusable (BurstGPT's failed requests with zero
response tokens) are skipped and counted.

Formats:

- Azure LLM inference trace 2023 CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens`` with timestamps like
  ``2023-11-16 18:15:46.6805900``.
- BurstGPT CSV: ``Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`` (seconds).
- Mooncake JSONL: one object a line with ``timestamp`` (milliseconds), ``input_length``, ``output_length``.
"""

from __future__ import annotations

import csv
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.base import shared_data_dir


class TraceError(ValueError):
    """A malformed trace file: the message names the file and line."""


MAX_TOKENS = 1 << 40  # far above any context length; keeps token counts inside int64 arithmetic


@dataclass
class Trace:
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str = "synthetic"
    skipped: int = 0

    def __post_init__(self):
        order = np.argsort(self.arrival_s, kind="stable")
        a = np.asarray(self.arrival_s, dtype=float)[order]
        if not np.all(np.isfinite(a)):
            raise TraceError("arrival_s: every arrival time must be finite (NaN or inf would stall the simulated clock)")
        self.arrival_s = a - (a[0] if len(a) else 0.0)
        self.input_tokens = np.maximum(1, np.asarray(self.input_tokens, dtype=np.int64)[order])
        self.output_tokens = np.maximum(1, np.asarray(self.output_tokens, dtype=np.int64)[order])

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def rate(self) -> float:
        """Mean arrival rate in requests per second (n−1 gaps over the span)."""
        span = float(self.arrival_s[-1]) if len(self) > 1 else 0.0
        return (len(self) - 1) / span if span > 0 else float("inf")

    def scaled(self, rate: float | None = None, limit: int | None = None) -> Trace:
        """The first ``limit`` requests, with time stretched so the mean rate is ``rate`` (req/s)."""
        n = len(self) if limit is None else min(limit, len(self))
        t = Trace(self.arrival_s[:n].copy(), self.input_tokens[:n], self.output_tokens[:n], self.source, self.skipped)
        if rate is not None and n > 1 and t.rate != float("inf"):
            t.arrival_s = t.arrival_s * (t.rate / rate)
        return t


# ---- generators ---------------------------------------------------------------------------------
def _lognormal(rng, median: float, sigma: float, n: int, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.round(median * np.exp(sigma * rng.standard_normal(n))), lo, hi).astype(np.int64)


def arrivals(rng, n: int, rate: float, burstiness: float) -> np.ndarray:
    """Arrival times: gamma inter-arrival gaps of mean 1/rate and coefficient of variation ``burstiness``.

    burstiness 1 is a Poisson process; > 1 is bursty (shape ``1/cv²``); 0 means all arrive at once
    (a saturating workload).
    """
    if burstiness == 0 or rate == float("inf"):
        return np.zeros(n)
    shape = 1.0 / burstiness**2
    gaps = rng.gamma(shape, 1.0 / (rate * shape), size=n)
    gaps[0] = 0.0
    return np.cumsum(gaps)


def synthetic(
    seed: int,
    n: int,
    rate: float,
    burstiness: float,
    input_median: int,
    output_median: int,
    sigma: float = 0.8,
    max_input: int = 131072,
    max_output: int = 4096,
) -> Trace:
    """Log-normal input/output lengths around the medians (chat-like spread) at the given arrival process."""
    rng = np.random.default_rng(seed)
    t = arrivals(rng, n, rate, burstiness)
    return Trace(t, _lognormal(rng, input_median, sigma, n, 1, max_input), _lognormal(rng, output_median, sigma, n, 1, max_output))


def long_context_mix(seed: int, n: int, rate: float, burstiness: float, lo: int = 32768, hi: int = 131072) -> Trace:
    """Inputs log-uniform in [lo, hi] (32K–128K), outputs uniform in 1K–4K."""
    rng = np.random.default_rng(seed)
    t = arrivals(rng, n, rate, burstiness)
    inp = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi), n))).astype(np.int64)
    return Trace(t, inp, rng.integers(1024, 4097, n))


def long_context(seed: int, n: int, input_tokens: int = 131072) -> Trace:
    """The paper's scenario: n requests of ``input_tokens`` (128K) all at t=0, outputs uniform in 1K–4K."""
    rng = np.random.default_rng(seed)
    return Trace(np.zeros(n), np.full(n, input_tokens), rng.integers(1024, 4097, n))


# ---- loaders ------------------------------------------------------------------------------------
def _int_field(row: dict, key: str, path: Path, line: int) -> int:
    raw = row.get(key)
    if raw is None:
        raise TraceError(f"{path}:{line}: {key} is missing, expected a whole number of tokens")
    try:
        x = float(raw)
    except (TypeError, ValueError):
        x = float("nan")
    if not (math.isfinite(x) and x == int(x)):  # "inf", "nan", "12.7" and 1e30 are not token counts
        raise TraceError(f"{path}:{line}: {key} is {raw!r}, expected a whole number of tokens")
    if x < 0:
        raise TraceError(f"{path}:{line}: {key} is negative ({raw!r})")
    if x > MAX_TOKENS:
        raise TraceError(f"{path}:{line}: {key} is {raw!r}, expected at most {MAX_TOKENS:,} tokens")
    return int(x)


def _seconds(raw, key: str, scale: float, path: Path, line: int, unit: str) -> float:
    """A finite time stamp in seconds (``raw × scale``); NaN or inf would stall the simulated clock."""
    try:
        t = float(raw) * scale
    except (TypeError, ValueError):
        t = float("nan")
    if not math.isfinite(t):
        raise TraceError(f"{path}:{line}: {key} is {raw!r}, expected a finite number of {unit}")
    return t


def _check_header(fields, need: tuple[str, ...], path: Path, fmt: str) -> None:
    missing = [k for k in need if k not in (fields or ())]
    if missing:
        raise TraceError(f"{path}:1: not a {fmt} header, missing column(s) {', '.join(missing)} (found: {', '.join(fields or [])})")


def load_azure(path: str | Path) -> Trace:
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        _check_header(reader.fieldnames, ("TIMESTAMP", "ContextTokens", "GeneratedTokens"), path, "Azure LLM trace")
        stamps, inp, out = [], [], []
        for row in reader:
            line = reader.line_num
            ts = (row.get("TIMESTAMP") or "").strip()
            try:
                stamp = np.datetime64(ts.replace(" ", "T"), "ns")
            except ValueError:
                stamp = np.datetime64("NaT")
            if np.isnat(stamp):  # numpy reads "" and "NaT" as not-a-time instead of failing
                raise TraceError(f"{path}:{line}: TIMESTAMP {ts!r} is not a date-time like 2023-11-16 18:15:46.6805900")
            stamps.append(stamp)
            inp.append(_int_field(row, "ContextTokens", path, line))
            out.append(_int_field(row, "GeneratedTokens", path, line))
    if not stamps:
        raise TraceError(f"{path}: no requests")
    t = np.array(stamps, dtype="datetime64[ns]")
    return Trace((t - t.min()).astype(np.int64) / 1e9, np.array(inp), np.array(out), source=str(path))


def load_burstgpt(path: str | Path) -> Trace:
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        _check_header(reader.fieldnames, ("Timestamp", "Request tokens", "Response tokens"), path, "BurstGPT")
        t, inp, out, skipped = [], [], [], 0
        for row in reader:
            line = reader.line_num
            ts = _seconds(row.get("Timestamp"), "Timestamp", 1.0, path, line, "seconds")
            i, o = _int_field(row, "Request tokens", path, line), _int_field(row, "Response tokens", path, line)
            if o == 0:  # a failed request in BurstGPT: nothing was generated
                skipped += 1
                continue
            t.append(ts)
            inp.append(i)
            out.append(o)
    if not t:
        raise TraceError(f"{path}: no usable requests ({skipped} skipped)")
    return Trace(np.array(t), np.array(inp), np.array(out), source=str(path), skipped=skipped)


def load_mooncake(path: str | Path) -> Trace:
    path = Path(path)
    t, inp, out = [], [], []
    with path.open() as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise TraceError(f"{path}:{line}: not JSON ({err.msg})") from None
            if not isinstance(obj, dict):
                raise TraceError(f"{path}:{line}: expected an object with timestamp, input_length, output_length")
            if "timestamp" not in obj:
                raise TraceError(f"{path}:{line}: timestamp is missing, expected milliseconds")
            t.append(_seconds(obj["timestamp"], "timestamp", 1e-3, path, line, "milliseconds"))
            inp.append(_int_field(obj, "input_length", path, line))
            out.append(_int_field(obj, "output_length", path, line))
    if not t:
        raise TraceError(f"{path}: no requests")
    return Trace(np.array(t), np.array(inp), np.array(out), source=str(path))


def sniff_format(path: str | Path) -> str:
    """``azure``, ``burstgpt`` or ``mooncake`` from the first line of the file."""
    path = Path(path)
    try:
        with path.open() as fh:
            first = fh.readline()
    except OSError as err:
        raise TraceError(f"{path}: cannot read ({err.strerror})") from None
    if first.lstrip().startswith("{"):
        return "mooncake"
    if "ContextTokens" in first:
        return "azure"
    if "Request tokens" in first:
        return "burstgpt"
    raise TraceError(f"{path}:1: unknown trace format (expected an Azure or BurstGPT CSV header, or Mooncake JSON lines)")


def _first_undecodable_line(path: Path) -> int:
    with path.open("rb") as fh:
        for line, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line
    return 1


def load(path: str | Path, fmt: str = "auto") -> Trace:
    path = Path(path)
    try:
        fmt = sniff_format(path) if fmt == "auto" else fmt
        return {"azure": load_azure, "burstgpt": load_burstgpt, "mooncake": load_mooncake}[fmt](path)
    except UnicodeDecodeError:
        raise TraceError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 text, expected a CSV or JSON-lines trace") from None
    except OSError as err:
        raise TraceError(f"{path}: cannot read ({err.strerror})") from None


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, fmt: str, mtime_ns: int, size: int) -> Trace:
    return load(path, fmt)


def load_cached(path: str | Path, fmt: str = "auto") -> Trace:
    """``load`` remembered per (path, format, modification time, size): Config validation and the run share one parse.

    The returned Trace is shared; ``scaled`` copies before changing anything.
    """
    try:
        st = Path(path).stat()
    except OSError as err:
        raise TraceError(f"{path}: cannot read ({err.strerror})") from None
    return _load_cached(str(path), fmt, st.st_mtime_ns, st.st_size)


def azure_trace_path() -> Path:
    return shared_data_dir() / "azure_llm_2023_conv.csv"
