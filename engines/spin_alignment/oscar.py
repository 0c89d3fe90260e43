"""OSCAR particle lists: readers (OSCAR2013, OSCAR2013 Extended, OSC1999A), a writer (OSCAR2013 Extended), the analysis.

Formats (as written by SMASH; UrQMD reaches them through its converters):

- ``#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge`` then ``# event N [ensemble E] out M`` (or
  ``in``), M rows, ``# event N [ensemble E] end 0 impact B ...`` (SMASH ≥ 2 writes the ensemble, older files do not);
- ``#!OSCAR2013Extended particle_lists ... ncoll form_time xsecfac proc_id_origin proc_type_origin time_last_coll
  pdg_mother1 pdg_mother2 [baryon_number strangeness]``: the columns are read from the header line;
- ``# OSC1999A`` / ``# final_id_p_x``: blocks ``n_in n_out event [ensemble]`` followed by rows
  ``id pdg 0 px py pz p0 mass x y z t`` and the null line ``0 0 event [ensemble impact]``.

Each block is one particle list (one entry of ``ParticleLists.impact``); a file with intermediate time steps therefore
holds several lists per event.

Parents are identified from the extended columns: two particles of one event that share ``proc_id_origin`` with
``proc_type_origin`` = 5 (a decay) and ``pdg_mother1`` = 313, 333 or 113, with the meson's daughter species. A daughter
that scattered afterwards carries the later process instead — exactly "reconstructed only when both daughters escape".
Files without parent information can be read but not analysed for ρ00. The reaction plane is taken at Ψ_RP = 0 (the
transport codes put the impact parameter along x). Malformed input raises :class:`OscarError` with file, line and what
was expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import FRAMES, MESON_NAMES, MESONS

BASE_COLUMNS = ("t", "x", "y", "z", "mass", "p0", "px", "py", "pz", "pdg", "ID", "charge")
EXTENDED_COLUMNS = BASE_COLUMNS + ("ncoll", "form_time", "xsecfac", "proc_id_origin", "proc_type_origin", "time_last_coll",
                                   "pdg_mother1", "pdg_mother2", "baryon_number", "strangeness")
UNITS = {"t": "fm", "x": "fm", "y": "fm", "z": "fm", "mass": "GeV", "p0": "GeV", "px": "GeV", "py": "GeV", "pz": "GeV", "pdg": "none",
         "ID": "none", "charge": "e", "ncoll": "none", "form_time": "fm", "xsecfac": "none", "proc_id_origin": "none",
         "proc_type_origin": "none", "time_last_coll": "fm", "pdg_mother1": "none", "pdg_mother2": "none", "baryon_number": "none",
         "strangeness": "none"}
INT_COLUMNS = {"pdg", "ID", "charge", "ncoll", "proc_id_origin", "proc_type_origin", "pdg_mother1", "pdg_mother2", "baryon_number",
               "strangeness"}
OSC1999_COLUMNS = ("ID", "pdg", "zero", "px", "py", "pz", "p0", "mass", "x", "y", "z", "t")
PROCESS_DECAY, PROCESS_ELASTIC = 5, 1


class OscarError(ValueError):
    """A malformed OSCAR file: ``file:line: what was expected``."""


@dataclass
class ParticleLists:
    """All particles of all events, column-wise; ``event`` gives each row's event, ``impact`` each event's b (NaN if absent)."""

    format: str
    columns: tuple[str, ...]
    data: dict[str, np.ndarray]
    event: np.ndarray
    impact: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_events(self) -> int:
        return len(self.impact)

    def __len__(self) -> int:
        return len(self.event)


def _fail(path, line_no: int, what: str):
    raise OscarError(f"{path}:{line_no}: {what}")


def _parse_rows(path, rows: list[tuple[int, list[str]]], columns: tuple[str, ...]) -> np.ndarray:
    ncol = len(columns)
    for ln, parts in rows:
        if len(parts) != ncol:
            _fail(path, ln, f"expected {ncol} columns ({' '.join(columns)}), got {len(parts)}")
    try:
        return np.array([p for _, p in rows], dtype=float).reshape(len(rows), ncol)
    except ValueError:
        for ln, parts in rows:
            for name, text in zip(columns, parts):
                try:
                    float(text)
                except ValueError:
                    _fail(path, ln, f"column {name!r}: cannot read {text!r} as a number")
        raise


def read_oscar(path: str | Path) -> ParticleLists:
    """Read an OSCAR2013 / OSCAR2013 Extended / OSC1999A particle list (format from the first line)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise OscarError(f"{path}:1: expected a text OSCAR file, found binary data") from None
    if not lines:
        _fail(path, 1, "expected an OSCAR header, found an empty file")
    first = lines[0].strip()
    if first.startswith("#!OSCAR2013"):
        return _read_2013(path, lines)
    if first.lstrip("# ").startswith("OSC1999A"):
        return _read_1999(path, lines)
    _fail(path, 1, f"expected an OSCAR header ('#!OSCAR2013 particle_lists ...', '#!OSCAR2013Extended particle_lists ...' or "
                   f"'# OSC1999A'), got {first[:60]!r}")


def _read_2013(path, lines: list[str]) -> ParticleLists:
    head = lines[0].split()
    fmt = head[0][2:]
    if fmt not in ("OSCAR2013", "OSCAR2013Extended") or len(head) < 2 or head[1] != "particle_lists":
        _fail(path, 1, f"expected '#!OSCAR2013 particle_lists' or '#!OSCAR2013Extended particle_lists', got {' '.join(head[:2])!r}")
    columns = tuple(head[2:])
    missing = [c for c in BASE_COLUMNS if c not in columns]
    if missing:
        _fail(path, 1, f"header lacks the columns {' '.join(missing)} (expected at least: {' '.join(BASE_COLUMNS)})")
    blocks, impacts, event_ids = [], [], []
    i, n = 1, len(lines)
    while i < n:
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if not line.startswith("#"):
            _fail(path, i, f"expected an event header '# event N [ensemble E] out M', got a particle row {line[:40]!r}")
        parts = line[1:].split()
        if len(parts) >= 4 and parts[0] == "event" and parts[2] == "ensemble":
            del parts[2:4]  # '# event N ensemble E ...' (SMASH >= 2) reads as '# event N ...'
        if len(parts) >= 4 and parts[0] == "event" and parts[2] in ("out", "in"):
            try:
                count = int(parts[3])
                ev = int(parts[1])
            except ValueError:
                _fail(path, i, f"expected '# event N [ensemble E] out M' with integers, got {line[:60]!r}")
            header_line = i
            rows = []
            while len(rows) < count:
                if i >= n or lines[i].lstrip().startswith("#"):
                    _fail(path, i + 1 if i < n else n, f"event {ev} truncated: expected {count} particle rows after line {header_line}, "
                                                       f"got {len(rows)}")
                rows.append((i + 1, lines[i].split()))
                i += 1
            blocks.append(_parse_rows(path, rows, columns) if rows else np.zeros((0, len(columns))))
            event_ids.append(ev)
            impacts.append(math.nan)
        elif len(parts) >= 3 and parts[0] == "event" and parts[2] == "end":
            if not event_ids:
                _fail(path, i, "found an event end before any '# event N [ensemble E] out M' header")
            if "impact" in parts:
                k = parts.index("impact")
                try:
                    impacts[-1] = float(parts[k + 1])
                except (ValueError, IndexError):
                    _fail(path, i, f"expected a number after 'impact', got {line[:60]!r}")
        # other comment lines (units, version) are skipped
    return _assemble(fmt, columns, blocks, impacts)


def _read_1999(path, lines: list[str]) -> ParticleLists:
    blocks, impacts = [], []
    i, n = 1, len(lines)
    while i < n:
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        expected = "an event line 'n_in n_out event [ensemble]' or its end '0 0 event [ensemble impact]'"
        if len(parts) not in (3, 4, 5):
            _fail(path, i, f"expected {expected}, got {len(parts)} fields")
        try:
            a, b, ev = (int(p) for p in parts[:3])
            if len(parts) >= 4:
                int(parts[3])
            impact = float(parts[4]) if len(parts) == 5 else math.nan
        except ValueError:
            _fail(path, i, f"expected {expected}, got {line[:60]!r}")
        count = b if b > 0 else a
        if count == 0:  # the null interaction closing an event, with its impact parameter (SMASH >= 2)
            if impacts and math.isfinite(impact):
                impacts[-1] = impact
            continue
        header_line = i
        rows = []
        while len(rows) < count:
            if i >= n or lines[i].lstrip().startswith("#") or len(lines[i].split()) in (3, 4, 5):
                _fail(path, min(i + 1, n),
                      f"event {ev} truncated: expected {count} particle rows after line {header_line}, got {len(rows)}")
            rows.append((i + 1, lines[i].split()))
            i += 1
        blocks.append(_parse_rows(path, rows, OSC1999_COLUMNS))
        impacts.append(math.nan)
    return _assemble("OSC1999A", OSC1999_COLUMNS, blocks, impacts)


def _assemble(fmt: str, columns, blocks, impacts) -> ParticleLists:
    ncol = len(columns)
    allrows = np.concatenate(blocks) if blocks else np.zeros((0, ncol))
    event = np.concatenate([np.full(len(b), k) for k, b in enumerate(blocks)]) if blocks else np.zeros(0, dtype=int)
    data = {}
    for j, name in enumerate(columns):
        if name == "zero":
            continue
        col = allrows[:, j]
        data[name] = col.astype(np.int64) if name in INT_COLUMNS else col
    return ParticleLists(fmt, tuple(c for c in columns if c != "zero"), data, event.astype(np.int64), np.asarray(impacts, dtype=float))


def write_oscar2013_extended(path: str | Path, lists: ParticleLists, program: str = "paper-workbench spin_alignment") -> Path:
    """Write OSCAR2013 Extended (SMASH-3 columns); floats with 17 significant digits so a read-back is lossless."""
    path = Path(path)
    cols = EXTENDED_COLUMNS
    out = [f"#!OSCAR2013Extended particle_lists {' '.join(cols)}", "# Units: " + " ".join(UNITS[c] for c in cols), f"# {program}"]
    for ev in range(lists.n_events):
        sel = np.nonzero(lists.event == ev)[0]
        out.append(f"# event {ev} out {len(sel)}")
        for r in sel:
            fields = []
            for c in cols:
                v = lists.data[c][r] if c in lists.data else 0
                fields.append(str(int(v)) if c in INT_COLUMNS else repr(float(v)))
            out.append(" ".join(fields))
        b = lists.impact[ev]
        out.append(f"# event {ev} end 0 impact {repr(float(b)) if math.isfinite(b) else '0.0'} scattering_projectile_target yes")
    path.write_text("\n".join(out) + "\n")
    return path


def find_decays(lists: ParticleLists) -> dict[str, dict[str, np.ndarray]]:
    """Pairs of daughters of K*0, φ, ρ0 decays, from the extended columns: per meson, event and both daughters' (p, E)."""
    need = ("proc_id_origin", "proc_type_origin", "pdg_mother1")
    if any(c not in lists.data for c in need):
        raise OscarError(f"{lists.format}: parent identification needs the OSCAR2013 Extended columns {', '.join(need)}")
    d = lists.data
    out = {}
    for meson in MESON_NAMES:
        pdg, _, _, d1, _, d2, _ = MESONS[meson]
        cand = np.nonzero((d["proc_type_origin"] == PROCESS_DECAY) & (np.abs(d["pdg_mother1"]) == pdg))[0]
        key = lists.event[cand] * (1 << 32) + d["proc_id_origin"][cand]
        order = np.argsort(key, kind="stable")
        cand, key = cand[order], key[order]
        uniq, start, cnt = np.unique(key, return_index=True, return_counts=True)
        pairs = start[cnt == 2]
        a, b = cand[pairs], cand[pairs + 1]
        # daughter 1 is the kaon for K*0 (either charge for K*0-bar), the positive daughter for φ and ρ0
        swap = (np.abs(d["pdg"][a]) != abs(d1)) if abs(d1) != abs(d2) else (d["charge"][a] < d["charge"][b])
        first, second = np.where(swap, b, a), np.where(swap, a, b)
        ok = (np.abs(d["pdg"][first]) == abs(d1)) & (np.abs(d["pdg"][second]) == abs(d2))
        first, second = first[ok], second[ok]

        def mom(idx):
            return np.stack([d["px"][idx], d["py"][idx], d["pz"][idx]], -1), d["p0"][idx]

        (p1, e1), (p2, e2) = mom(first), mom(second)
        out[meson] = dict(event=lists.event[first], p1=p1, e1=e1, p2=p2, e2=e2)
    return out


def analyse_events(lists: ParticleLists, n_bins: int = 20, y_max: float = 1.0, pt_min: float = 0.0, pt_max: float = 1e9) -> dict:
    """ρ00 of the reconstructed decays in a file, the same estimators as the Monte Carlo: {meson: {frame: {...}}}."""
    import torch

    from .analysis import Accumulator, fit_estimate, frame_axes, moment_estimate, rest_frame_direction

    out = {}
    for meson, dec in find_decays(lists).items():
        T = torch.float64
        p1, e1 = torch.as_tensor(dec["p1"], dtype=T), torch.as_tensor(dec["e1"], dtype=T)
        p2, e2 = torch.as_tensor(dec["p2"], dtype=T), torch.as_tensor(dec["e2"], dtype=T)
        P, E = p1 + p2, e1 + e2
        pt = P[:, :2].norm(dim=-1)
        y = 0.5 * torch.log((E + P[:, 2]) / (E - P[:, 2]))
        keep = (y.abs() < y_max) & (pt >= pt_min) & (pt < pt_max)
        p1, e1, p2, e2, P = p1[keep], e1[keep], p2[keep], e2[keep], P[keep]
        acc = Accumulator(n_bins)
        dstar = rest_frame_direction(p1.unsqueeze(1), e1.unsqueeze(1), p2.unsqueeze(1), e2.unsqueeze(1))
        axes = frame_axes(P, torch.zeros(len(P), dtype=T))
        cos = (dstar.unsqueeze(0) * axes.unsqueeze(2)).sum(-1)
        acc.add(cos, torch.ones_like(cos), torch.ones(len(P), dtype=T))
        out[meson] = {}
        for j, frame in enumerate(FRAMES):
            v, e = moment_estimate(acc.total[j])
            fv, fe, _ = fit_estimate(acc.hist[j], acc.cov[j])
            out[meson][frame] = {"value": v, "error": e, "n": int(len(P)), "fit_value": fv, "fit_error": fe}
    return out


def stream_file(path: str | Path, config=None, device: str = "auto"):
    """Read and analyse an OSCAR file as an engine stream (for the panel's job runner): the last snapshot's result is
    ``{"path", "format", "events", "rho00": {meson: {frame: {value, error, n, fit_value, fit_error}}}}``."""
    from engines.base import Snapshot
    from engines.device import cpu_threads, resolve

    from .config import Config

    config = config or Config()
    yield Snapshot(0.0, f"reading {Path(path).name}")
    lists = read_oscar(path)
    yield Snapshot(0.5, f"analysing {len(lists):,} particles")
    with cpu_threads(config.cpu_threads, resolve(device)):
        try:
            rho = analyse_events(lists, n_bins=config.n_bins, y_max=config.y_max, pt_min=config.pt_min, pt_max=config.pt_max)
        except OscarError as err:  # a readable file without parent information: say which file
            raise OscarError(f"{path}: {err}") from None
    yield Snapshot(1.0, "done", {"path": str(path), "format": lists.format, "events": lists.n_events, "rho00": rho})
