"""OSCAR particle lists: readers for OSCAR2013, OSCAR2013 Extended and OSC1999A, a lossless writer for each.

Formats (as SMASH writes them; UrQMD reaches them through its converters):

- ``#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge``, then blocks ``# event N [ensemble E] out M``
  (``in M`` for an event's initial list) of M rows, and ``# event N [ensemble E] end 0 impact B ...`` closing the event
  (SMASH ≥ 2 writes the ensemble, older files do not; an event whose final list is empty has only the end line);
- ``#!OSCAR2013Extended particle_lists ... ncoll form_time xsecfac proc_id_origin proc_type_origin time_last_coll
  pdg_mother1 pdg_mother2 [baryon_number strangeness]``: the columns are read from the header line, in any order;
- ``# OSC1999A`` / ``# final_id_p_x``: blocks ``n_in n_out event [ensemble]`` (one of the counts zero) of rows
  ``id pdg 0 px py pz p0 mass x y z t``, and the null line ``0 0 event [ensemble] [impact]`` closing the event (SMASH 1
  writes ``0 0 event impact`` with the impact as ``%7.3f``, so a fourth field with a decimal point is the impact).

A file with intermediate time steps holds several lists per event; ``ParticleLists.final`` marks the last one of each
event, the one analysed. What the reader accepts: UTF-8 text (a byte-order mark and CRLF line ends are fine), regular
files only; every header, block and row checked after conversion — integer columns (``pdg``, ``ID``, ``charge``, the
process and parent columns) must be written as integers, every other value must be a finite number, each particle
must have p0 > 0 and be timelike or lightlike (p0 ≥ |p|), momenta and energies below 10⁶ GeV, counts non-negative,
no column named twice, no block of an event after its end line. Anything else raises :class:`OscarError` naming the
file, the line and what was expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.inputs import InputError, exact_int, finite_float, read_text, where

BASE_COLUMNS = ("t", "x", "y", "z", "mass", "p0", "px", "py", "pz", "pdg", "ID", "charge")
EXTENDED_COLUMNS = BASE_COLUMNS + ("ncoll", "form_time", "xsecfac", "proc_id_origin", "proc_type_origin", "time_last_coll",
                                   "pdg_mother1", "pdg_mother2", "baryon_number", "strangeness")
UNITS = {"t": "fm", "x": "fm", "y": "fm", "z": "fm", "mass": "GeV", "p0": "GeV", "px": "GeV", "py": "GeV", "pz": "GeV", "pdg": "none",
         "ID": "none", "charge": "e", "ncoll": "none", "form_time": "fm", "xsecfac": "none", "proc_id_origin": "none",
         "proc_type_origin": "none", "time_last_coll": "fm", "pdg_mother1": "none", "pdg_mother2": "none", "baryon_number": "none",
         "strangeness": "none"}
INT_COLUMNS = {"pdg", "ID", "charge", "ncoll", "proc_id_origin", "proc_type_origin", "pdg_mother1", "pdg_mother2", "baryon_number",
               "strangeness", "zero"}
OSC1999_COLUMNS = ("ID", "pdg", "zero", "px", "py", "pz", "p0", "mass", "x", "y", "z", "t")
FORMATS = ("OSCAR2013", "OSCAR2013Extended", "OSC1999A")
PROCESS_DECAY, PROCESS_ELASTIC = 5, 1
MAX_MOMENTUM = 1e6  # GeV: far above any heavy-ion collision; larger values are a corrupted file
MAX_BYTES = 2**30  # 1 GiB of text: about 6 million particles, parsed in well under a minute


class OscarError(InputError):
    """A malformed OSCAR file: ``file:line: what was expected``."""


@dataclass
class ParticleLists:
    """All particles of all particle lists, column-wise.

    ``event`` gives each row's list (an index into the per-list arrays), ``impact`` each list's impact parameter (NaN if
    the file gives none), ``list_event`` / ``list_ensemble`` the event and ensemble numbers the file gives each list.
    """

    format: str
    columns: tuple[str, ...]
    data: dict[str, np.ndarray]
    event: np.ndarray
    impact: np.ndarray = field(default_factory=lambda: np.zeros(0))
    list_event: np.ndarray | None = None
    list_ensemble: np.ndarray | None = None
    path: str = ""

    def __post_init__(self) -> None:
        n = len(self.impact)
        if self.list_event is None:
            self.list_event = np.arange(n, dtype=np.int64)
        if self.list_ensemble is None:
            self.list_ensemble = np.zeros(n, dtype=np.int64)

    @property
    def n_lists(self) -> int:
        return len(self.impact)

    @property
    def n_events(self) -> int:
        """Distinct (event, ensemble) numbers."""
        return len(set(zip(self.list_event.tolist(), self.list_ensemble.tolist())))

    @property
    def final(self) -> np.ndarray:
        """(lists,) True for the last list of each event: the final particles, the ones a measurement sees."""
        keys = list(zip(self.list_event.tolist(), self.list_ensemble.tolist()))
        last = {k: i for i, k in enumerate(keys)}
        out = np.zeros(len(keys), dtype=bool)
        out[list(last.values())] = True
        return out

    def __len__(self) -> int:
        return len(self.event)


def _fail(path, line_no: int | None, what: str):
    raise OscarError(f"{where(path, line_no)}: {what}")


MAX_HEADER_INT = 2**31 - 1  # event, ensemble numbers and counts: SMASH prints them as C ints


def _int(text: str, path, line_no: int, what: str) -> int:
    """A header's event, ensemble number or count: an integer in [0, 2³¹ − 1]."""
    return exact_int(text, f"{where(path, line_no)}: {what}", OscarError, lo=0, hi=MAX_HEADER_INT)


class _Lists:
    """Blocks as they are read, with the event structure checked: no block of an event after its end line."""

    def __init__(self, path):
        self.path = path
        self.blocks: list[dict[str, np.ndarray]] = []
        self.keys: list[tuple[int, int]] = []
        self.impact: list[float] = []
        self.ended: dict[tuple[int, int], int] = {}  # event key -> line of its end

    def add(self, key: tuple[int, int], block: dict[str, np.ndarray], line_no: int) -> None:
        if key in self.ended:
            _fail(self.path, line_no, f"a particle list of event {key[0]} (ensemble {key[1]}) after that event's end on line "
                                      f"{self.ended[key]}")
        self.blocks.append(block)
        self.keys.append(key)
        self.impact.append(math.nan)

    def end(self, key: tuple[int, int], impact: float, line_no: int, columns: tuple[str, ...]) -> None:
        if key in self.ended:
            _fail(self.path, line_no, f"event {key[0]} (ensemble {key[1]}) ends a second time (first on line {self.ended[key]})")
        if key not in self.keys:  # an event whose final list is empty: SMASH writes only its end line
            self.add(key, _empty(columns), line_no)
        self.ended[key] = line_no
        for k, other in enumerate(self.keys):
            if other == key:
                self.impact[k] = impact


def _empty(columns) -> dict[str, np.ndarray]:
    return {c: np.zeros(0, dtype=np.int64 if c in INT_COLUMNS else float) for c in columns}


def _parse_block(path, rows: list[tuple[int, str]], columns: tuple[str, ...], slice_rows: int = 65_536) -> dict[str, np.ndarray]:
    """Column -> values of the rows: int64 for the integer columns (written as integers), finite float64 for the rest.

    Parsed ``slice_rows`` rows at a time, so the text tokens of one huge block never sit in memory all at once."""
    if len(rows) > slice_rows:
        parts = [_parse_block(path, rows[i:i + slice_rows], columns, slice_rows) for i in range(0, len(rows), slice_rows)]
        return {c: np.concatenate([b[c] for b in parts]) for c in columns}
    ncol = len(columns)
    split = []
    for ln, text in rows:
        parts = text.split()
        if len(parts) != ncol:
            _fail(path, ln, f"expected {ncol} columns ({' '.join(columns)}), got {len(parts)}")
        split.append(parts)
    if not split:
        return _empty(columns)
    tokens = np.array(split)
    out = {}
    for j, name in enumerate(columns):
        kind = np.int64 if name in INT_COLUMNS else np.float64
        try:
            col = tokens[:, j].astype(kind)
        except (ValueError, OverflowError):
            col = None
        if col is None or (kind is np.float64 and not np.isfinite(col).all()):  # value by value, to name the line
            read = exact_int if kind is np.int64 else finite_float
            bounds = dict(lo=-(2**63), hi=2**63 - 1) if kind is np.int64 else {}
            col = np.array([read(parts[j], f"{where(path, ln)}: column {name!r}", OscarError, **bounds)
                            for (ln, _), parts in zip(rows, split)], dtype=kind)
        out[name] = col
    _check_momenta(path, rows, out)
    return out


def _check_momenta(path, rows, block: dict[str, np.ndarray]) -> None:
    """p0 > 0, p0 ≥ |p| (a particle is timelike or lightlike: a spacelike one would give a pair without a rest frame)."""
    p0 = block["p0"]
    p = np.stack([block["px"], block["py"], block["pz"]], -1)
    big = (np.abs(p).max(axis=1) > MAX_MOMENTUM) | (np.abs(p0) > MAX_MOMENTUM)
    pmag = np.sqrt((np.where(big[:, None], 0.0, p) ** 2).sum(axis=1))
    bad = big | (p0 <= 0) | (p0 * (1 + 1e-6) + 1e-9 < pmag)
    if bad.any():
        k = int(np.argmax(bad))
        if big[k]:
            _fail(path, rows[k][0], f"momentum or energy beyond {MAX_MOMENTUM:g} GeV (expected a particle of a heavy-ion collision)")
        _fail(path, rows[k][0], f"p0 = {p0[k]:.6g} GeV with |p| = {pmag[k]:.6g} GeV: a particle must have p0 > 0 and p0 ≥ |p| "
                                f"(timelike or lightlike)")


def _is_2013_row(text: str) -> bool:
    return not text.lstrip().startswith("#")


def _is_1999_row(text: str) -> bool:
    """Not a comment, a blank line or a block line (3–5 fields): a particle row has 12."""
    return not text.lstrip().startswith("#") and len(text.split()) not in (0, 3, 4, 5)


def _take_rows(path, lines: list[str], i: int, count: int, ev: int, is_row) -> list[tuple[int, str]]:
    """(line number, text) of the ``count`` particle rows from index ``i``; fewer rows before the next block: truncated."""
    got = 0
    while got < count and i + got < len(lines) and is_row(lines[i + got]):
        got += 1
    if got < count:
        _fail(path, min(i + got + 1, len(lines)), f"event {ev} truncated: expected {count} particle rows after line {i}, got {got}")
    return [(k + 1, lines[k]) for k in range(i, i + count)]


def read_oscar(path: str | Path) -> ParticleLists:
    """Read an OSCAR2013 / OSCAR2013 Extended / OSC1999A particle list (format from the first line)."""
    lines = read_text(path, OscarError, MAX_BYTES).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        _fail(path, 1, "expected an OSCAR header, found an empty file")
    first = lines[0].strip()
    if first.startswith("#!OSCAR2013"):
        out = _read_2013(path, lines)
    elif first.lstrip("# ").startswith("OSC1999A"):
        out = _read_1999(path, lines)
    else:
        _fail(path, 1, f"expected an OSCAR header ('#!OSCAR2013 particle_lists ...', '#!OSCAR2013Extended particle_lists ...' or "
                       f"'# OSC1999A'), got {first[:60]!r}")
    out.path = str(path)
    return out


def _read_2013(path, lines: list[str]) -> ParticleLists:
    head = lines[0].split()
    fmt = head[0][2:]
    if fmt not in ("OSCAR2013", "OSCAR2013Extended") or len(head) < 2 or head[1] != "particle_lists":
        _fail(path, 1, f"expected '#!OSCAR2013 particle_lists' or '#!OSCAR2013Extended particle_lists', got {' '.join(head[:2])[:60]!r}")
    columns = tuple(head[2:])
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        _fail(path, 1, f"the header names the column{'s' if len(twice) > 1 else ''} {' '.join(twice)} twice (expected each column once)")
    missing = [c for c in BASE_COLUMNS if c not in columns]
    if missing:
        _fail(path, 1, f"header lacks the columns {' '.join(missing)} (expected at least: {' '.join(BASE_COLUMNS)})")
    lists = _Lists(path)
    i, n = 1, len(lines)
    while i < n:
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if not line.startswith("#"):
            _fail(path, i, f"expected an event header '# event N [ensemble E] out M', got a particle row {line[:40]!r}")
        parts = line[1:].split()
        if not parts or parts[0] != "event":
            continue  # other comment lines (units, version, interaction summaries) carry no particles
        expected = "'# event N [ensemble E] out M' or '# event N [ensemble E] end 0 impact B'"
        if len(parts) < 3:
            _fail(path, i, f"expected {expected}, got {line[:60]!r}")
        ev = _int(parts[1], path, i, "event number")
        ens = 0
        if parts[2] == "ensemble":
            if len(parts) < 5:
                _fail(path, i, f"expected {expected}, got {line[:60]!r}")
            ens = _int(parts[3], path, i, "ensemble number")
            del parts[2:4]
        key = (ev, ens)
        if parts[2] in ("out", "in"):
            if len(parts) != 4:
                _fail(path, i, f"expected '# event N [ensemble E] {parts[2]} M', got {line[:60]!r}")
            count = _int(parts[3], path, i, "particle count")
            header_line = i
            rows = _take_rows(path, lines, i, count, ev, _is_2013_row)
            i += count
            lists.add(key, _parse_block(path, rows, columns), header_line)
        elif parts[2] == "end":
            impact = math.nan
            if "impact" in parts:
                k = parts.index("impact")
                if k + 1 >= len(parts):
                    _fail(path, i, f"expected a number after 'impact', got {line[:60]!r}")
                impact = finite_float(parts[k + 1], f"{where(path, i)}: impact parameter", OscarError, lo=0.0, hi=1e3)
            lists.end(key, impact, i, columns)
        else:
            _fail(path, i, f"expected {expected}, got {line[:60]!r}")
    return _assemble(path, fmt, columns, lists)


def _read_1999(path, lines: list[str]) -> ParticleLists:
    lists = _Lists(path)
    expected = "a block line 'n_in n_out event [ensemble]' or an event end '0 0 event [ensemble] [impact]'"
    i, n = 1, len(lines)
    while i < n:
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) not in (3, 4, 5):
            _fail(path, i, f"expected {expected}, got {len(parts)} fields")
        a = _int(parts[0], path, i, "n_in")
        b = _int(parts[1], path, i, "n_out")
        ev = _int(parts[2], path, i, "event number")
        if a == 0 and b == 0:  # the null line closing an event
            rest = parts[3:]
            if len(rest) == 1 and any(c in rest[0] for c in ".eE"):  # SMASH 1: '0 0 event impact'
                rest = ["0"] + rest
            ens = _int(rest[0], path, i, "ensemble number") if rest else 0
            impact = finite_float(rest[1], f"{where(path, i)}: impact parameter", OscarError, lo=0.0, hi=1e3) if len(rest) > 1 else math.nan
            lists.end((ev, ens), impact, i, OSC1999_COLUMNS)
            continue
        if len(parts) == 5:
            _fail(path, i, f"expected {expected}: a block line has 3 or 4 fields, got 5")
        if a > 0 and b > 0:
            _fail(path, i, f"a block with {a} incoming and {b} outgoing particles is a collision history; expected a particle list "
                           "(one of n_in, n_out zero)")
        ens = _int(parts[3], path, i, "ensemble number") if len(parts) == 4 else 0
        count, header_line = max(a, b), i
        rows = _take_rows(path, lines, i, count, ev, _is_1999_row)
        i += count
        lists.add((ev, ens), _parse_block(path, rows, OSC1999_COLUMNS), header_line)
    return _assemble(path, "OSC1999A", OSC1999_COLUMNS, lists)


def _assemble(path, fmt: str, columns, lists: _Lists) -> ParticleLists:
    blocks = lists.blocks
    kept = tuple(c for c in columns if c != "zero")
    data = {c: np.concatenate([b[c] for b in blocks]) if blocks else _empty([c])[c] for c in kept}
    event = np.concatenate([np.full(len(b["p0"]), k, dtype=np.int64) for k, b in enumerate(blocks)]) if blocks else np.zeros(0, np.int64)
    keys = np.asarray(lists.keys, dtype=np.int64).reshape(-1, 2)
    return ParticleLists(fmt, kept, data, event, np.asarray(lists.impact, dtype=float), keys[:, 0].copy(), keys[:, 1].copy(), str(path))


def write_oscar(path: str | Path, lists: ParticleLists, format: str = "OSCAR2013Extended",
                program: str = "paper-workbench spin_alignment") -> Path:
    """Write ``lists`` as OSCAR2013, OSCAR2013 Extended (SMASH-3 columns) or OSC1999A, in SMASH's layout (ensemble numbers,
    an end line after each event's last list); floats with 17 significant digits, so a read-back is lossless."""
    if format not in FORMATS:
        raise ValueError(f"format: {format!r} is not a choice (allowed: {', '.join(FORMATS)})")
    path = Path(path)
    cols = {"OSCAR2013": BASE_COLUMNS, "OSCAR2013Extended": EXTENDED_COLUMNS, "OSC1999A": OSC1999_COLUMNS}[format]

    def row(r: int) -> str:
        fields = []
        for c in cols:
            v = lists.data[c][r] if c in lists.data else 0
            fields.append(str(int(v)) if c in INT_COLUMNS else repr(float(v)))
        return " ".join(fields)

    if format == "OSC1999A":
        out = ["# OSC1999A", "# final_id_p_x", f"# {program}", "# Block format:", "# nin nout event_number ensemble_number",
               "# id pdg 0 px py pz p0 mass x y z t", "# End of event: 0 0 event_number ensemble_number impact_parameter", "#"]
    else:
        out = [f"#!{format} particle_lists {' '.join(cols)}", "# Units: " + " ".join(UNITS[c] for c in cols), f"# {program}"]
    order = np.argsort(lists.event, kind="stable")
    starts = np.searchsorted(lists.event[order], np.arange(lists.n_lists + 1))
    final = lists.final
    for k in range(lists.n_lists):
        sel = order[starts[k]:starts[k + 1]]
        ev, ens = int(lists.list_event[k]), int(lists.list_ensemble[k])
        b = lists.impact[k]
        impact = repr(float(b)) if math.isfinite(b) else "0.0"
        if format == "OSC1999A":
            if len(sel):  # an empty list is the null line alone
                out.append(f"{len(sel)} 0 {ev} {ens}")
                out.extend(row(r) for r in sel)
            if final[k]:
                out.append(f"0 0 {ev} {ens} {impact}")
        else:
            out.append(f"# event {ev} ensemble {ens} out {len(sel)}")
            out.extend(row(r) for r in sel)
            if final[k]:
                out.append(f"# event {ev} ensemble {ens} end 0 impact {impact} scattering_projectile_target yes")
    path.write_text("\n".join(out) + "\n")
    return path
