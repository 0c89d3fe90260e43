"""The engine contract: Config fields that validate and describe themselves, snapshots, results.

Every engine package exposes ``Config``, ``Result``, ``stream(config, device)`` and ``run(config,
device)``; this module holds the pieces they share so that the CLI, the panels and the tests can
treat all engines alike. Nothing here imports Qt, torch or cvxpy.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

R = TypeVar("R")


def param(
    default: Any,
    doc: str,
    *,
    unit: str = "",
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    choices: tuple | None = None,
    group: str = "",
    gui: bool = True,
) -> Any:
    """A documented, range-checked Config field.

    ``lo``/``hi`` are inclusive bounds (``lo_open`` makes the lower one strict: ``x > lo``);
    ``choices`` lists the allowed values; ``group`` names the control group in the panel's form;
    ``gui=False`` keeps a field out of the generated form (it stays settable from scripts and the CLI).
    """
    meta = dict(doc=doc, unit=unit, lo=lo, hi=hi, lo_open=lo_open, choices=choices, group=group, gui=gui)
    return field(default=default, metadata=meta)


def _allowed(meta: dict, kind: type) -> str:
    if meta.get("choices"):
        return ", ".join(str(c) for c in meta["choices"])
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return {bool: "true, false", int: "an integer", float: "a number", str: "text"}.get(kind, kind.__name__)
    left = "(" if meta.get("lo_open") else "["
    return f"{kind.__name__} in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository: the real data benchmarks use (absent on a user's machine)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A Config class's resolved annotations (resolving them evaluates every string annotation: ~2 ms, once per class)."""
    return typing.get_type_hints(cls)


class ConfigBase:
    """Mixin for an engine's frozen ``Config`` dataclass.

    Fields declared with :func:`param` are checked on construction; a subclass adds cross-field
    rules in ``validate()``. Errors read ``field: what is wrong (allowed: ...)``.
    """

    def __post_init__(self) -> None:
        hints = _type_hints(type(self))
        for f in dataclasses.fields(self):
            meta, value, kind = f.metadata, getattr(self, f.name), hints[f.name]
            if not meta:
                continue
            base = _scalar_type(kind)
            if base is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            if base is not None and not (value is None and _optional(kind)):
                ok = isinstance(value, base) and not (base in (int, float) and isinstance(value, bool))
                if not ok:
                    raise ValueError(f"{f.name}: expected {base.__name__}, got {value!r} (allowed: {_allowed(meta, base)})")
                if base is float and not math.isfinite(value):
                    raise ValueError(f"{f.name}: must be finite, got {value!r} (allowed: {_allowed(meta, base)})")
                if base is int and not -(2**63) <= value < 2**63:  # numpy, torch and the RNGs take 64-bit integers
                    raise ValueError(f"{f.name}: {value} does not fit in 64 bits (allowed: {_allowed(meta, base)})")
            if meta.get("choices") and value not in meta["choices"]:
                raise ValueError(f"{f.name}: {value!r} is not a choice (allowed: {_allowed(meta, base or str)})")
            lo, hi = meta.get("lo"), meta.get("hi")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                too_low = lo is not None and (value <= lo if meta.get("lo_open") else value < lo)
                if too_low or (hi is not None and value > hi):
                    raise ValueError(f"{f.name}: {value!r} is out of range (allowed: {_allowed(meta, base or float)})")
        try:
            self.validate()
        except ArithmeticError as err:  # e.g. 1e300 * 1e200 inside a cross-field rule: a refusal, never a crash
            raise ValueError(f"{type(self).__name__}: values too large to check together ({err}); use smaller magnitudes") from None

    def validate(self) -> None:
        """Cross-field checks; raise ``ValueError("field: ...")``."""

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def describe(cls) -> list[dict]:
        """Every field: name, type, default, unit, allowed values, doc, group."""
        hints = _type_hints(cls)
        rows = []
        for f in dataclasses.fields(cls):
            base = _scalar_type(hints[f.name]) or str
            rows.append(
                dict(
                    name=f.name,
                    type=base.__name__,
                    default=f.default,
                    unit=f.metadata.get("unit", ""),
                    allowed=_allowed(f.metadata, base),
                    doc=f.metadata.get("doc", ""),
                    group=f.metadata.get("group", ""),
                    gui=f.metadata.get("gui", True),
                    choices=f.metadata.get("choices"),
                    lo=f.metadata.get("lo"),
                    hi=f.metadata.get("hi"),
                    optional=_optional(hints[f.name]),
                )
            )
        return rows

    @classmethod
    def from_strings(cls, pairs: dict[str, str], base: ConfigBase | None = None):
        """Build a Config from ``name -> text`` (the CLI's ``--set k=v``), parsing by field type."""
        hints = _type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        values: dict[str, Any] = {}
        for name, text in pairs.items():
            if name not in names:
                raise ValueError(f"{name}: no such field (allowed: {', '.join(names)})")
            values[name] = parse_value(text, hints[name], name)
        return dataclasses.replace(base, **values) if base is not None else cls(**values)


def _optional(kind: Any) -> bool:
    return type(None) in typing.get_args(kind)


def _scalar_type(kind: Any) -> type | None:
    """``float`` for ``float``, ``float | None``; None for anything that is not a plain scalar."""
    if kind in (bool, int, float, str):
        return kind
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if len(args) == 1 and args[0] in (bool, int, float, str):
        return args[0]
    return None


def parse_value(text: str, kind: Any, name: str) -> Any:
    base = _scalar_type(kind)
    if _optional(kind) and text.strip().lower() in ("", "none", "null"):
        return None
    try:
        if base is bool:
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        if base is str:
            return text
    except ValueError:
        raise ValueError(f"{name}: cannot read {text!r} as {base.__name__}") from None
    raise ValueError(f"{name}: this field cannot be set from text")


@dataclass
class Snapshot(Generic[R]):
    """One step of an engine's stream: how far (0..1), what it is doing, and the partial result.

    The result belongs to the receiver once yielded: the engine never writes to it afterwards (it yields a
    fresh Result, or ``result.frozen()`` of the one it keeps growing). ``changed`` names the parts of the
    result that are new since the previous snapshot (field or summary names the engine documents); an empty
    set means "anything may have changed", so a panel that only redraws what changed is always correct.
    """

    progress: float
    message: str
    result: R | None = None
    changed: frozenset[str] = frozenset()

    def has_changed(self, part: str) -> bool:
        """Whether ``part`` may differ from the previous snapshot's (always true when the engine names nothing)."""
        return not self.changed or part in self.changed


def consume(snapshots: Iterator[Snapshot[R]], on_snapshot: Callable[[Snapshot[R]], None] | None = None) -> R:
    """Run a stream to its end and return the final result (the contract's ``run``)."""
    last = None
    for snap in snapshots:
        last = snap
        if on_snapshot is not None:
            on_snapshot(snap)
    if last is None or last.progress != 1.0 or last.result is None:
        raise RuntimeError("engine stream ended without a final snapshot (progress 1.0 with a result)")
    return last.result


def jsonable(obj: Any) -> Any:
    """Numbers, lists and dicts that ``json.dumps`` accepts; NaN and infinities become None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if obj is None or isinstance(obj, str):
        return obj
    if dataclasses.is_dataclass(obj):
        return jsonable(dataclasses.asdict(obj))
    return str(obj)


@dataclass(frozen=True)
class Figure:
    """One number a result reports or a paper claims: its value, unit, what it measures, and its error if known.

    ``Figure(0.0064, "", "Δρ00 of K*0, production plane", error=0.0001)``; ``str()`` prints it as a reader would
    write it (``Δρ00 of K*0, production plane = 0.0064 ± 0.0001``). ``to_dict()`` is the JSON shape every
    summary uses for its ``headline`` and ``paper`` entries.
    """

    value: float | None
    unit: str
    what: str
    error: float | None = None

    def to_dict(self) -> dict:
        out = {"value": _finite_or_none(self.value), "unit": self.unit, "what": self.what}
        if self.error is not None:
            out["error"] = _finite_or_none(self.error)
        return out

    def __str__(self) -> str:
        if self.value is None or (isinstance(self.value, float) and not math.isfinite(self.value)):
            return f"{self.what} = n/a"
        text = f"{self.what} = {_num(self.value)}"
        if self.error is not None and math.isfinite(self.error):
            text += f" ± {_num(self.error)}"
        return text + (f" {self.unit}" if self.unit else "")


def _finite_or_none(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _num(v: float) -> str:
    v = float(v)
    if v.is_integer() and abs(v) < 1e12:  # counts, token lengths, bytes: 131072, not 1.311e+05
        return f"{int(v)}"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"


class ResultBase:
    """Mixin for an engine's ``Result`` dataclass (which has a ``config`` field holding the engine's Config).

    The contract's shape, the same in every engine:

    - ``PAPER``: the paper's own figures (class attribute, name -> :class:`Figure`);
    - ``headline()``: the figures a user reads first (name -> :class:`Figure`); a headline figure whose name is
      also in ``PAPER`` is the measured counterpart of the paper's number;
    - ``details()``: the engine's own JSON-safe figures (``summary()`` merges them in at the top level);
    - ``summary()`` = ``{"headline": {...}, "paper": {...}, **details()}``, each figure as ``Figure.to_dict()``;
    - ``arrays()`` the numpy arrays worth keeping (by default every ndarray field), ``tables()`` named columns
      for CSV, ``figures()`` a file stem -> function drawing on a matplotlib Figure;
    - ``save(dir)`` writes ``result.json`` (the summary), ``arrays.npz``, one CSV per table, one PNG per figure;
    - ``frozen()``: a copy that later appends to this result do not reach (what a stream yields);
    - ``repr()`` prints the headline, as iminuit's results print.
    """

    PAPER: ClassVar[dict[str, Figure]] = {}

    def __init_subclass__(cls, **kwargs):
        # @dataclass writes a field-by-field __repr__ unless the class already has one: give it the headline repr first
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = ResultBase.__repr__

    def headline(self) -> dict[str, Figure]:
        return {}

    def details(self) -> dict:
        return {}

    def summary(self) -> dict:
        return {
            "headline": {k: f.to_dict() for k, f in self.headline().items()},
            "paper": {k: f.to_dict() for k, f in self.PAPER.items()},
            **self.details(),
        }

    def frozen(self):
        """A shallow copy whose list, dict and ndarray fields are copies, so the engine can keep growing ``self``."""
        twin = copy.copy(self)
        if dataclasses.is_dataclass(self):
            for f in dataclasses.fields(self):
                v = getattr(self, f.name)
                if isinstance(v, (list, dict, np.ndarray)):
                    object.__setattr__(twin, f.name, v.copy())
        return twin

    def __repr__(self) -> str:
        lines = [f"{type(self).__module__.rsplit('.', 1)[0]}.{type(self).__name__}"]
        for name, fig in self.headline().items():
            paper = self.PAPER.get(name)
            tail = f"   (paper: {_num(paper.value)}{' ' + paper.unit if paper.unit else ''})" if paper and paper.value is not None else ""
            lines.append(f"  {fig}{tail}")
        return "\n".join(lines)

    def arrays(self) -> dict[str, np.ndarray]:
        if not dataclasses.is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if isinstance(getattr(self, f.name), np.ndarray)}

    def figures(self) -> dict[str, Callable[[Any], None]]:
        return {}

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        """File stem -> columns (name -> 1-D array of one length), written as CSV by ``save``."""
        return {}

    def save(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(jsonable(self.summary()), indent=2) + "\n")
        arrays = self.arrays()
        if arrays:
            np.savez_compressed(out / "arrays.npz", **arrays)
        for stem, columns in self.tables().items():
            names = list(columns)
            data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
            np.savetxt(out / f"{stem}.csv", data, delimiter=",", header=",".join(names), comments="", fmt="%.9g")
        figures = self.figures()
        if figures:
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib.figure import Figure as MplFigure

            for stem, draw in figures.items():
                fig = MplFigure(figsize=(8, 5), dpi=100, layout="constrained")
                draw(fig)
                fig.savefig(out / f"{stem}.png")
        return out
