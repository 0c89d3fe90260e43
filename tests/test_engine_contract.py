"""The shared engine contract: self-validating Config fields, JSON-safe summaries, saving results."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from engines.base import ConfigBase, ResultBase, Snapshot, consume, jsonable, param


@dataclass(frozen=True)
class Toy(ConfigBase):
    mass: float = param(1.0, "link mass", unit="kg", lo=0.0, lo_open=True)
    steps: int = param(10, "number of steps", lo=1, hi=100)
    mode: str = param("a", "mode", choices=("a", "b"))
    flag: bool = param(False, "a switch")
    path: str | None = param(None, "an optional file")

    def validate(self):
        if self.mode == "b" and self.steps < 5:
            raise ValueError("steps: mode b needs at least 5 steps (allowed: 5..100)")


@dataclass
class ToyResult(ResultBase):
    x: np.ndarray
    y: np.ndarray

    def summary(self):
        return {"mean": float(self.y.mean()), "bad": float("nan")}

    def tables(self):
        return {"series": {"x": self.x, "y": self.y}}

    def figures(self):
        return {"curve": lambda fig: fig.add_subplot().plot(self.x, self.y)}


@pytest.mark.parametrize(
    "changes, field",
    [({"mass": 0.0}, "mass"), ({"mass": -1.0}, "mass"), ({"steps": 0}, "steps"), ({"steps": 101}, "steps"),
     ({"mode": "c"}, "mode"), ({"mass": math.nan}, "mass"), ({"steps": 1.5}, "steps"), ({"mode": "b", "steps": 2}, "steps")],
)
def test_bad_values_are_refused_naming_the_field_and_the_allowed_values(changes, field):
    with pytest.raises(ValueError) as err:
        Toy(**changes)
    text = str(err.value)
    assert text.startswith(f"{field}:") and "allowed" in text and "\n" not in text


def test_from_strings_parses_by_field_type_and_rejects_unknown_fields():
    cfg = Toy.from_strings({"mass": "2.5", "steps": "7", "flag": "yes", "path": "none"})
    assert (cfg.mass, cfg.steps, cfg.flag, cfg.path) == (2.5, 7, True, None)
    assert Toy.from_strings({"mass": "3"}).mass == 3.0 and isinstance(Toy(mass=3).mass, float)
    with pytest.raises(ValueError, match=r"^nonsense: no such field \(allowed: mass, steps, mode, flag, path\)$"):
        Toy.from_strings({"nonsense": "1"})
    with pytest.raises(ValueError, match="^steps: cannot read"):
        Toy.from_strings({"steps": "many"})


def test_describe_lists_every_field_with_doc_unit_and_range():
    rows = {r["name"]: r for r in Toy.describe()}
    assert list(rows) == ["mass", "steps", "mode", "flag", "path"]
    assert rows["mass"]["unit"] == "kg" and rows["mass"]["allowed"] == "float in (0.0, inf]"
    assert rows["steps"]["allowed"] == "int in [1, 100]" and rows["mode"]["allowed"] == "a, b"
    assert all(r["doc"] for r in rows.values())


def test_consume_returns_the_final_result_and_refuses_a_stream_without_one():
    assert consume(iter([Snapshot(0.5, "half", None), Snapshot(1.0, "done", 42)])) == 42
    with pytest.raises(RuntimeError):
        consume(iter([Snapshot(0.5, "half", 1)]))


def test_jsonable_turns_numpy_and_nonfinite_values_into_plain_json():
    data = jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": float("inf"), 1: (np.bool_(True), None)})
    assert json.loads(json.dumps(data)) == {"a": 1.5, "b": [0, 1, 2], "c": None, "1": [True, None]}


def test_save_writes_summary_arrays_tables_and_figures(tmp_path):
    x = np.linspace(0, 1, 11)
    ToyResult(x, x**2).save(tmp_path)
    assert json.loads((tmp_path / "result.json").read_text()) == {"mean": pytest.approx(float((x**2).mean())), "bad": None}
    npz = np.load(tmp_path / "arrays.npz")
    np.testing.assert_array_equal(npz["y"], x**2)
    table = np.loadtxt(tmp_path / "series.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], x**2, rtol=1e-8)
    assert (tmp_path / "series.csv").read_text().splitlines()[0] == "x,y"
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
