"""Reading a user's file safely: regular files only, bounded sizes, text decoded with a clear error.

Every reader in the engines opens its file through :func:`regular_file` (a FIFO would block forever, ``/dev/zero``
would be read until memory runs out, a folder is no file) and raises its engine's own error type, a subclass of
:class:`InputError`, whose message names the file, the line or record, and what was expected. Text readers use
:func:`read_text` (UTF-8 with or without the byte-order mark spreadsheet programs write; CRLF line ends are fine)
and :func:`json_load` (nesting bounded, so a hostile file cannot exhaust the recursion limit).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path

MAX_FILE_BYTES = 4 * 2**30  # 4 GiB: larger than any input the engines are sized for on a 24 GB machine
MAX_JSON_DEPTH = 64
_INT = re.compile(r"[+-]?[0-9]+")


class InputError(ValueError):
    """A user's file or value that cannot be used; the message names the file, the line or record, and what was expected."""


def where(path: str | Path, line: int | None = None) -> str:
    """``path`` or ``path:line``, the prefix of every reader's message."""
    return f"{path}:{line}" if line is not None else f"{path}"


def regular_file(path: str | Path, error: type[InputError] = InputError, max_bytes: int = MAX_FILE_BYTES) -> Path:
    """``path`` as a Path once it is known to be a readable regular file of at most ``max_bytes``; else ``error``."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: no such file") from None
    except OSError as err:
        raise error(f"{p}: cannot be read ({err.strerror or err})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a folder, expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: not a regular file (a pipe, device or socket cannot be read as a file)")
    if st.st_size > max_bytes:
        raise error(f"{p}: {st.st_size:,} bytes is larger than the {max_bytes:,} this reader accepts")
    if not os.access(p, os.R_OK):
        raise error(f"{p}: permission denied")
    return p


def read_bytes(path: str | Path, error: type[InputError] = InputError, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    p = regular_file(path, error, max_bytes)
    try:
        return p.read_bytes()
    except OSError as err:
        raise error(f"{p}: cannot be read ({err.strerror or err})") from None


def read_text(path: str | Path, error: type[InputError] = InputError, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The file's text: UTF-8 (a leading byte-order mark dropped), line ends normalised to ``\\n``."""
    raw = read_bytes(path, error, max_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise error(f"{where(path, line)}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise error(f"{where(path, line)}: a NUL byte: this is a binary file, expected text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _depth(obj, limit: int) -> int:
    """Nesting depth of parsed JSON, iteratively (the parser's own recursion is bounded by the pre-scan below)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def json_loads(text: str, source: str | Path, error: type[InputError] = InputError, max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON text; NaN/Infinity literals, nesting deeper than ``max_depth`` and syntax errors raise ``error`` with the line."""
    depth = 0
    in_string = escaped = False
    for ch in text:  # bound the nesting before the recursive parser sees it
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise error(f"{source}: JSON nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise error(f"{where(source, err.lineno)}: not valid JSON ({err.msg})") from None
    except ValueError as err:
        raise error(f"{source}: {err}") from None


def json_load(path: str | Path, error: type[InputError] = InputError, max_bytes: int = 256 * 2**20):
    """A JSON file, read as :func:`read_text` and parsed as :func:`json_loads`."""
    return json_loads(read_text(path, error, max_bytes), path, error)


def finite_float(text: str, what: str, error: type[InputError] = InputError, lo: float | None = None, hi: float | None = None) -> float:
    """``text`` as a finite float within [lo, hi]; ``error`` names ``what`` (e.g. ``"file:12: column px"``) otherwise."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise error(f"{what}: expected a number, got {str(text)[:40]!r}") from None
    if not math.isfinite(v):
        raise error(f"{what}: {str(text)[:40]!r} is not a finite number")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise error(f"{what}: {v:g} is out of range [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
    return v


def exact_int(text: str, what: str, error: type[InputError] = InputError, lo: int | None = None, hi: int | None = None) -> int:
    """``text`` as an integer written as one (``211``, not ``211.5`` or ``2e2``), within [lo, hi]."""
    s = str(text).strip()
    if not _INT.fullmatch(s):  # int() would also take "1_000" and " ４２ "
        raise error(f"{what}: expected an integer, got {s[:40]!r}")
    v = int(s)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise error(f"{what}: {v} is out of range [{lo}, {hi}]")
    return v
