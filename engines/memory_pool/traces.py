"""Request traces: synthetic generators and loaders for real trace files.

A trace is three arrays of one length: ``arrival_s`` (sorted, starting at 0), ``input_tokens``,
``output_tokens`` (both ≥ 1), and for a file the line each request came from. Loaders report malformed
rows as ``TraceError`` naming the file and the 1-based line number; rows that are well-formed but unusable
(BurstGPT's failed requests with zero response tokens) are skipped and counted.

Formats (each read as UTF-8 text, with or without a byte-order mark, CRLF or LF line ends, from a regular
file of at most ``MAX_TRACE_BYTES``; at most ``MAX_ROWS`` requests; token counts whole numbers in
[0, ``MAX_TOKENS``]):

- Azure LLM inference trace 2023 CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens`` with timestamps like
  ``2023-11-16 18:15:46.6805900`` (date, time to at most nanoseconds, any year 1–9999; differences exact to 1 ns).
- BurstGPT CSV: ``Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`` (seconds ≥ 0).
- Mooncake JSONL: one object a line with ``timestamp`` (milliseconds ≥ 0), ``input_length``, ``output_length``
  (JSON integers, or numbers with no fractional part).

A CSV must name every column it needs once in its header (a repeated name is refused, not silently the last).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.base import shared_data_dir
from engines.inputs import InputError, json_loads, read_text, where


class TraceError(InputError):
    """A malformed trace file: the message names the file and line."""


MAX_TOKENS = 1 << 32  # per field: far above any context length; keeps sums over MAX_ROWS requests inside int64
MAX_ROWS = 10_000_000
MAX_TRACE_BYTES = 1 << 30
MAX_SECONDS = 1e12  # timestamps (after conversion to seconds) stay below ~31,700 years
_AZURE_STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?")
_EPOCH = dt.datetime(1, 1, 1)
_WHOLE = re.compile(r"[+-]?[0-9]+")


@dataclass
class Trace:
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str = "synthetic"
    skipped: int = 0
    lines: np.ndarray | None = field(default=None, repr=False)  # the file line of each request (a loaded trace)

    def __post_init__(self):
        order = np.argsort(self.arrival_s, kind="stable")
        a = np.asarray(self.arrival_s, dtype=float)[order]
        if not np.all(np.isfinite(a)):
            raise TraceError("arrival_s: every arrival time must be finite (NaN or inf would stall the simulated clock)")
        self.arrival_s = a - (a[0] if len(a) else 0.0)
        self.input_tokens = np.maximum(1, np.asarray(self.input_tokens, dtype=np.int64)[order])
        self.output_tokens = np.maximum(1, np.asarray(self.output_tokens, dtype=np.int64)[order])
        if self.lines is not None:
            self.lines = np.asarray(self.lines, dtype=np.int64)[order]

    def __len__(self) -> int:
        return len(self.arrival_s)

    def where(self, i: int) -> str:
        """``file:line`` of request ``i`` for a loaded trace, else ``request i`` (for messages)."""
        return where(self.source, int(self.lines[i])) if self.lines is not None else f"request {i}"

    @property
    def rate(self) -> float:
        """Mean arrival rate in requests per second (n−1 gaps over the span)."""
        span = float(self.arrival_s[-1]) if len(self) > 1 else 0.0
        return (len(self) - 1) / span if span > 0 else float("inf")

    def scaled(self, rate: float | None = None, limit: int | None = None) -> Trace:
        """The first ``limit`` requests, with time stretched so the mean rate is ``rate`` (req/s)."""
        n = len(self) if limit is None else min(limit, len(self))
        lines = None if self.lines is None else self.lines[:n]
        t = Trace(self.arrival_s[:n].copy(), self.input_tokens[:n], self.output_tokens[:n], self.source, self.skipped, lines)
        if rate is not None and n > 1 and t.rate != float("inf"):
            t.arrival_s = t.arrival_s * (t.rate / rate)
            if not np.all(np.isfinite(t.arrival_s)):
                raise TraceError(f"{self.source}: stretched to {rate:g} req/s the arrival times overflow (allowed: a higher rate)")
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
def _tokens(raw, key: str, at: str) -> int:
    """A token count: a whole number in [0, MAX_TOKENS] (JSON numbers with no fractional part are whole too)."""
    if raw is None:
        raise TraceError(f"{at}: {key} is missing, expected a whole number of tokens")
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise TraceError(f"{at}: {key} is {str(raw)[:40]!r}, expected a whole number of tokens")
    if isinstance(raw, float):
        if not (math.isfinite(raw) and raw.is_integer()):
            raise TraceError(f"{at}: {key} is {raw!r}, expected a whole number of tokens")
        raw = int(raw)
    text = str(raw).strip()
    if not _WHOLE.fullmatch(text):
        raise TraceError(f"{at}: {key} is {text[:40]!r}, expected a whole number of tokens")
    digits = text.lstrip("+-").lstrip("0")
    n = int(text) if len(digits) <= 20 else MAX_TOKENS + 1  # past any bound (and int() refuses thousands of digits)
    if n < 0:
        raise TraceError(f"{at}: {key} is negative ({text[:40]!r})")
    if n > MAX_TOKENS:
        raise TraceError(f"{at}: {key} is {text[:40]!r}, expected at most {MAX_TOKENS:,} tokens")
    return n


def _seconds(raw, key: str, scale: float, at: str, unit: str) -> float:
    """A finite, non-negative time stamp in seconds (``raw × scale``); NaN or inf would stall the simulated clock."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise TraceError(f"{at}: {key} is {str(raw)[:40]!r}, expected a finite number of {unit}")
    try:
        t = float(raw) * scale
    except (ValueError, OverflowError):
        t = float("nan")
    if not math.isfinite(t):
        raise TraceError(f"{at}: {key} is {str(raw)[:40]!r}, expected a finite number of {unit}")
    if not 0 <= t <= MAX_SECONDS:
        raise TraceError(f"{at}: {key} is {str(raw)[:40]!r}, expected {unit} in [0, {MAX_SECONDS / scale:g}]")
    return t


def _azure_ns(raw: str | None, at: str) -> int:
    """``2023-11-16 18:15:46.6805900`` as integer nanoseconds since 0001-01-01 (exact, any year 1–9999)."""
    text = (raw or "").strip()
    m = _AZURE_STAMP.fullmatch(text)
    stamp = None
    if m:
        y, mo, d, h, mi, sec, frac = m.groups()
        try:
            stamp = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0))
        except ValueError:
            stamp = None
    if stamp is None:
        raise TraceError(f"{at}: TIMESTAMP {text[:40]!r} is not a date-time like 2023-11-16 18:15:46.6805900")
    delta = stamp - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**9 + int((frac or "").ljust(9, "0"))


def _csv_rows(text: str, path: Path, need: tuple[str, ...], fmt: str):
    """``(line, {column: text})`` for each data row of a CSV, after checking its header names each needed column once."""
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = next(reader, None)
        names = [h.strip() for h in header or []]
        missing = [k for k in need if k not in names]
        if missing:
            raise TraceError(f"{path}:1: not a {fmt} header, missing column(s) {', '.join(missing)} (found: {', '.join(names)[:200]})")
        twice = sorted({k for k in names if names.count(k) > 1 and k in need})
        if twice:
            raise TraceError(f"{path}:1: column(s) {', '.join(twice)} appear more than once in the header (expected each once)")
        col = {k: names.index(k) for k in need}
        n = 0
        for row in reader:
            if not row:
                continue
            n += 1
            if n > MAX_ROWS:
                raise TraceError(f"{path}: more than {MAX_ROWS:,} requests (allowed: a file of at most that many rows)")
            yield reader.line_num, {k: (row[i] if i < len(row) else None) for k, i in col.items()}
    except csv.Error as err:  # a field over csv's size limit, a stray quote, a NUL
        raise TraceError(f"{where(path, reader.line_num)}: not a well-formed CSV row ({err})") from None


def _read(path: str | Path) -> tuple[Path, str]:
    return Path(path), read_text(path, TraceError, MAX_TRACE_BYTES)


def parse_azure(text: str, path: str | Path) -> Trace:
    path = Path(path)
    stamps, inp, out, lines = [], [], [], []
    for line, row in _csv_rows(text, path, ("TIMESTAMP", "ContextTokens", "GeneratedTokens"), "Azure LLM trace"):
        at = where(path, line)
        stamps.append(_azure_ns(row["TIMESTAMP"], at))
        inp.append(_tokens(row["ContextTokens"], "ContextTokens", at))
        out.append(_tokens(row["GeneratedTokens"], "GeneratedTokens", at))
        lines.append(line)
    if not stamps:
        raise TraceError(f"{path}: no requests")
    t0 = min(stamps)
    # whole nanoseconds after the first request, exact as Python integers; seconds as floats only at the end
    arrival = np.array([s - t0 for s in stamps], dtype=float) / 1e9
    return Trace(arrival, np.array(inp), np.array(out), source=str(path), lines=np.array(lines))


def parse_burstgpt(text: str, path: str | Path) -> Trace:
    path = Path(path)
    t, inp, out, lines, skipped = [], [], [], [], 0
    for line, row in _csv_rows(text, path, ("Timestamp", "Request tokens", "Response tokens"), "BurstGPT"):
        at = where(path, line)
        ts = _seconds(row["Timestamp"], "Timestamp", 1.0, at, "seconds")
        i, o = _tokens(row["Request tokens"], "Request tokens", at), _tokens(row["Response tokens"], "Response tokens", at)
        if o == 0:  # a failed request in BurstGPT: nothing was generated
            skipped += 1
            continue
        t.append(ts)
        inp.append(i)
        out.append(o)
        lines.append(line)
    if not t:
        raise TraceError(f"{path}: no usable requests ({skipped} skipped)")
    return Trace(np.array(t), np.array(inp), np.array(out), source=str(path), skipped=skipped, lines=np.array(lines))


def parse_mooncake(text: str, path: str | Path) -> Trace:
    path = Path(path)
    t, inp, out, lines = [], [], [], []
    for line, row in enumerate(text.split("\n"), start=1):
        if not row.strip():
            continue
        at = where(path, line)
        obj = json_loads(row, at, TraceError)
        if not isinstance(obj, dict):
            raise TraceError(f"{at}: expected an object with timestamp, input_length, output_length")
        if "timestamp" not in obj:
            raise TraceError(f"{at}: timestamp is missing, expected milliseconds")
        if len(t) >= MAX_ROWS:
            raise TraceError(f"{path}: more than {MAX_ROWS:,} requests (allowed: a file of at most that many lines)")
        t.append(_seconds(obj["timestamp"], "timestamp", 1e-3, at, "milliseconds"))
        inp.append(_tokens(obj.get("input_length"), "input_length", at))
        out.append(_tokens(obj.get("output_length"), "output_length", at))
        lines.append(line)
    if not t:
        raise TraceError(f"{path}: no requests")
    return Trace(np.array(t), np.array(inp), np.array(out), source=str(path), lines=np.array(lines))


PARSERS = {"azure": parse_azure, "burstgpt": parse_burstgpt, "mooncake": parse_mooncake}


def sniff(text: str, path: str | Path) -> str:
    """``azure``, ``burstgpt`` or ``mooncake`` from the first line of a trace's text."""
    first = text.split("\n", 1)[0]
    if first.lstrip().startswith("{"):
        return "mooncake"
    if "ContextTokens" in first:
        return "azure"
    if "Request tokens" in first:
        return "burstgpt"
    raise TraceError(f"{path}:1: unknown trace format (expected an Azure or BurstGPT CSV header, or Mooncake JSON lines)")


def sniff_format(path: str | Path) -> str:
    """``azure``, ``burstgpt`` or ``mooncake`` from the first line of the file."""
    path, text = _read(path)
    return sniff(text, path)


def load(path: str | Path, fmt: str = "auto") -> Trace:
    """A trace file of the given format (``auto`` sniffs the first line); TraceError names the file and line."""
    path, text = _read(path)
    if fmt != "auto" and fmt not in PARSERS:
        raise TraceError(f"{path}: unknown format {fmt!r} (allowed: auto, {', '.join(PARSERS)})")
    return PARSERS[sniff(text, path) if fmt == "auto" else fmt](text, path)


def load_azure(path: str | Path) -> Trace:
    return load(path, "azure")


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
        raise TraceError(f"{path}: cannot be read ({err.strerror or err})") from None
    return _load_cached(str(path), fmt, st.st_mtime_ns, st.st_size)


def azure_trace_path() -> Path:
    return shared_data_dir() / "azure_llm_2023_conv.csv"
