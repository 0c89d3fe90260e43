"""The panel base: a form generated from the Config (tooltips everywhere), jobs off the GUI thread, errors shown."""

from __future__ import annotations

import logging
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QLineEdit, QSpinBox

import engines
from engines.base import ConfigBase, ResultBase, Snapshot, consume, param
from panels.base import ConfigForm, Panel


@dataclass(frozen=True)
class ToyConfig(ConfigBase):
    amplitude: float = param(2.0, "curve amplitude", unit="m", lo=0.0, group="Curve")
    points: int = param(50, "number of points", lo=2, hi=10_000, group="Curve")
    shape: str = param("sine", "curve shape", choices=("sine", "square"), group="Curve")
    fail: bool = param(False, "raise inside the engine", group="Debug")


@dataclass
class ToyResult(ResultBase):
    y: np.ndarray

    def summary(self):
        return {"max": float(self.y.max())}


def toy_stream(config=None, device="auto"):
    config = config or ToyConfig()
    x = np.linspace(0, 2 * np.pi, config.points)
    y = config.amplitude * (np.sin(x) if config.shape == "sine" else np.sign(np.sin(x)))
    yield Snapshot(0.5, "half way", None)
    if config.fail:
        raise RuntimeError("toy engine failed on purpose")
    yield Snapshot(1.0, "done", ToyResult(y))


@pytest.fixture
def toy_engine(monkeypatch):
    module = types.ModuleType("engines.toy")
    module.Config, module.Result, module.stream = ToyConfig, ToyResult, toy_stream
    module.run = lambda config=None, device="auto": consume(toy_stream(config, device))
    monkeypatch.setitem(sys.modules, "engines.toy", module)
    monkeypatch.setitem(engines.ENGINES, "toy", "a toy engine for the panel base tests")
    return module


class ToyPanel(Panel):
    engine_name = "toy"

    def build_views(self):
        self.drawn = []
        return QLabel("views")

    def show_snapshot(self, snap):
        self.drawn.append(snap)


def test_form_has_a_tooltipped_control_per_field_and_round_trips(qtbot):
    form = ConfigForm(ToyConfig)
    qtbot.addWidget(form)
    kinds = {name: type(form.editor(name)) for name in ("amplitude", "points", "shape", "fail")}
    assert kinds == {"amplitude": QLineEdit, "points": QSpinBox, "shape": QComboBox, "fail": QCheckBox}
    for name in kinds:
        assert form.editor(name).toolTip().startswith(next(r["doc"] for r in ToyConfig.describe() if r["name"] == name))
    assert form.config() == ToyConfig()
    changed = ToyConfig(amplitude=3.5, points=7, shape="square", fail=True)
    form.set_config(changed)
    assert form.config() == changed


def test_form_reports_a_bad_value_by_field(qtbot):
    form = ConfigForm(ToyConfig)
    qtbot.addWidget(form)
    form.editor("amplitude").setText("-1")
    with pytest.raises(ValueError, match="^amplitude: "):
        form.config()


def test_panel_runs_its_job_off_the_gui_thread_and_draws_the_final_snapshot(qtbot, build_panel, toy_engine):
    panel = build_panel(ToyPanel)
    job = panel.run_job()
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    assert panel.drawn[-1].progress == 1.0
    assert panel.result.summary() == {"max": pytest.approx(2.0, rel=1e-2)}


def test_a_failing_job_shows_its_error_in_the_panel_and_the_log(qtbot, build_panel, toy_engine, caplog):
    panel = build_panel(ToyPanel)
    panel.form.editor("fail").setChecked(True)
    with caplog.at_level(logging.ERROR, logger="workbench"):
        job = panel.run_job()
        with qtbot.waitSignal(job.failed, timeout=10_000):
            pass
    assert panel.error.text() == "RuntimeError: toy engine failed on purpose" and not panel.error.isHidden()
    assert any("toy engine failed on purpose" in r.getMessage() and "Traceback" in r.getMessage() for r in caplog.records)
    panel.form.editor("fail").setChecked(False)
    job = panel.run_job()  # the panel keeps working after a failure
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    assert panel.error.isHidden()


def test_bad_control_value_is_shown_and_no_job_starts(qtbot, build_panel, toy_engine):
    panel = build_panel(ToyPanel)
    panel.form.editor("amplitude").setText("lots")
    assert panel.run_job() is None
    assert panel.error.text().startswith("amplitude: cannot read 'lots'")


def test_export_writes_views_result_and_config(qtbot, build_panel, toy_engine, tmp_path):
    panel = build_panel(ToyPanel)
    panel.run_blocking()
    out = panel.export(tmp_path / "export")
    assert {p.name for p in out.iterdir()} >= {"views.png", "result.json", "arrays.npz", "config.json"}


def test_an_export_that_cannot_be_written_is_an_error_in_the_panel(qtbot, build_panel, toy_engine, tmp_path, monkeypatch):
    panel = build_panel(ToyPanel)
    panel.run_blocking()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a: str(blocker / "export")))
    panel.ask_export()
    assert panel.error.text().startswith(f"export to {blocker / 'export'}: ") and not panel.error.isHidden()


class SweepablePanel(ToyPanel):
    sweep_fields = ("amplitude", "shape")


def test_the_sweep_action_runs_a_stoppable_job_draws_rows_as_they_arrive_and_is_exported(qtbot, build_panel, toy_engine, tmp_path,
                                                                                        monkeypatch):
    import panels.sweep

    monkeypatch.setattr(panels.sweep, "sweep_folder", lambda panel_id: tmp_path / "runs")
    panel = build_panel(SweepablePanel)
    dialog = panel.open_sweep()
    assert dialog.values.text() == "0.5,1,2,4,8", "values around the current amplitude (2 m)"
    dialog.values.setText("1,2,3")
    dialog.backend.setCurrentText("serial")
    job = dialog.start()
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert dialog.table.rowCount() == 3 and dialog.figure.currentText() == "max"
    assert [float(dialog.table.item(i, 2).text()) for i in range(3)] == pytest.approx([1, 2, 3], rel=1e-2)
    out = panel.export(tmp_path / "export")
    assert (out / "sweep" / "table.csv").read_text().count("\n") == 4

    dialog.values.setText("1,-5")  # refused by the Config before any run starts
    assert dialog.start() is None and "amplitude" in dialog.info.text()
    dialog.field_box.setCurrentIndex(1)
    assert dialog.values.text() == "sine,square"


@pytest.mark.parametrize("panel_id", ["manipulator_cbf", "spin_alignment", "memory_pool"])
def test_a_sweep_runs_the_main_computation_only(qtbot, panel_id):
    from panels import spec

    panel = spec(panel_id).factory()
    qtbot.addWidget(panel)
    assert panel.sweep_fields and panel.sweep_button.isEnabled()
    cfg = panel.sweep_config(panel.config())
    side = {"manipulator_cbf": {"mc_scenarios": 0, "sweep_points": 0, "backend_samples": 0},
            "spin_alignment": {"scan": "none", "oscar": ""}, "memory_pool": {"sensitivity": "off"}}[panel_id]
    assert {k: getattr(cfg, k) for k in side} == side
    assert cfg.replace(**{k: getattr(panel.config(), k) for k in side}) == panel.config()  # nothing else changed
