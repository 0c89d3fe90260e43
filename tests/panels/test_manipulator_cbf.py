"""The manipulator CBF panel: default job through the job runner, views filled, Player and cursors, Monte Carlo side job."""

from __future__ import annotations

import json

import numpy as np
import pytest

from panels.manipulator_cbf import ManipulatorCbfPanel

SMALL = dict(sweep_points=3, backend_samples=10, duration=2.0, mc_scenarios=8, mc_duration=0.4)


@pytest.fixture
def panel(build_panel):
    return build_panel(ManipulatorCbfPanel, show=True)


def test_default_job_fills_the_views(panel, qtbot, tmp_path):
    panel.set_config(panel.default_config().replace(**SMALL))
    job = panel.run_job()
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    r = panel.result
    assert r.mc_min_h.shape[1] == 0  # the main job leaves the Monte Carlo to its own tab
    assert panel.shown is r
    x, y = panel.ts_curves[("h", "adaptive")].getData()
    assert len(x) == len(r.t) and np.allclose(y, 1e3 * r.h[2].min(axis=1))
    xs, ys = panel.scenes[0][("arm", "fixed_gain")].getData()
    assert len(xs) == 3 and xs[0] == 0.0
    assert np.hypot(xs[1], ys[1]) == pytest.approx(r.config.l1) and np.hypot(xs[2] - xs[1], ys[2] - ys[1]) == pytest.approx(r.config.l2)
    sx, sy = panel.sweep_curves["adaptive"].getData()
    assert len(sx) == 3
    banner = panel.headline.text()
    assert "adaptive-gain CBF: smallest h" in banner and "mm" in banner and "(paper: 0 steps)" in banner
    assert r.verdict() in banner
    assert panel.backend_table.item(1, 0) is not None
    speedup = r.backends["speedup_vs_cvxpy"]
    assert f"active set {speedup['active_set']:.0f}× and closed form {speedup['closed_form']:.0f}×" in panel.backend_info.text()
    # it opens on the fixed gain's deepest moment; dragging a cursor moves the Player and the arms, and the Player the cursors
    assert panel.player.frame == int(round(r.deepest_t("fixed_gain") / r.config.dt))
    before = panel.scenes[0][("arm", "adaptive")].getData()[0].copy()
    panel.cursors[0].setValue(0.1)
    after = panel.scenes[0][("arm", "adaptive")].getData()[0]
    assert panel.player.frame == 100 and not np.allclose(before, after)
    assert all(c.value() == pytest.approx(0.1) for c in panel.cursors)
    panel.player.slider.setValue(1500)
    assert all(c.value() == pytest.approx(1.5) for c in panel.cursors) and "t = 1.500 s" in panel.time_label.text()
    assert panel.player.step == pytest.approx(panel.speed.value() * 0.033 / r.config.dt)
    # the Monte Carlo starts when its tab opens, as the monte_carlo side job
    panel.tabs.setCurrentWidget(panel.mc_tab)
    qtbot.waitUntil(lambda: panel.mc_curves["adaptive"].getData()[1] is not None and panel.mc_curves["adaptive"].getData()[1].sum() == 8,
                    timeout=120_000)
    assert "Violation rate" in panel.mc_info.text()
    mc = panel.results["monte_carlo"].summary()["monte_carlo"]
    rate, se = mc["violation_rate"]["adaptive"], mc["violation_rate_stderr"]["adaptive"]
    assert f"adaptive {100 * rate:.1f} ± {100 * se:.1f} %" in panel.mc_info.text()
    # the export holds what the tabs show: the main job's result and the Monte Carlo's
    out = panel.export(tmp_path)
    assert json.loads((out / "result.json").read_text())["claim_holds"] == r.summary()["claim_holds"]
    assert json.loads((out / "monte_carlo" / "result.json").read_text())["monte_carlo"]["violation_rate"] == pytest.approx(
        mc["violation_rate"])


def test_bad_control_value_shows_an_error(panel, qtbot):
    panel.form.editor("m1").setText("-1")
    panel.form.editor("m1").editingFinished.emit()
    assert panel.error.isVisible() or "m1" in panel.error.text()
    assert "m1" in panel.error.text()


def test_extra_controls_have_tooltips(panel):
    for w in (panel.show_box, panel.player.button, panel.player.slider, panel.speed, panel.mc_button):
        assert w.toolTip()


def test_changing_a_control_reruns_the_simulation(panel, qtbot):
    """Interaction is live: editing a control starts a new run with the new value, no Run press needed."""
    panel.set_config(panel.default_config().replace(**{**SMALL, "sweep_points": 0, "backend_samples": 0}))
    editor = panel.form.editor("impulse_ns")
    editor.setText("0.5")
    editor.editingFinished.emit()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    assert panel.result.config.impulse_ns == 0.5
    assert "1 impact of 0.5 N·s" in panel.headline.text() and panel.result.verdict() in panel.headline.text()


def test_h_axes_carry_the_barriers_units(panel):
    """h is in m for the floor, m² for the obstacle (‖p - c‖² - r²), rad for joint limits: the views say which."""
    cfg = panel.default_config().replace(barrier="floor+circle", joint_limits=True, duration=0.5, sweep_points=2, backend_samples=0)
    panel.run_blocking(cfg)
    assert panel.result.h_units == ["m", "m²", "rad", "rad", "rad", "rad"]
    unit = "10⁻³ (m | m² | rad)"
    assert unit in panel.ts_plots[0].getAxis("left").labelText
    assert unit in panel.sweep_plot.getAxis("left").labelText
    assert "mm, " not in panel.arm_text.text() and unit in panel.arm_text.text()
    panel.run_blocking(cfg.replace(barrier="floor", joint_limits=False))
    assert panel.ts_plots[0].getAxis("left").labelText == "min h [mm]"
    assert panel.ts_plots[1].getAxis("left").labelText == "ψ₁ [m/s]"
