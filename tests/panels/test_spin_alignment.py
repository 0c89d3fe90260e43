"""The ρ00 explorer: builds, runs its default job and the energy scan through the job runner, draws every view."""

import numpy as np
import pytest

from engines.spin_alignment import Config, write_oscar2013_extended
from engines.spin_alignment.events import simulate_events
from panels.spin_alignment import SpinAlignmentPanel


@pytest.fixture
def panel(build_panel):
    return build_panel(SpinAlignmentPanel)


def test_default_job_and_energy_scan_draw_every_view(panel, qtbot, tmp_path):
    job = panel.run_job()
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    res = panel.result
    x, h = panel.hist_bars.opts["x"], panel.hist_bars.opts["height"]
    assert len(x) == res.hist.shape[-1] and np.all(np.asarray(h) > 0)
    cx, cy = panel.fit_curve.getData()
    assert len(cx) == 101 and np.all(np.isfinite(cy))
    # the ρ00 = 1/3 reference is flat and encloses the same area as the fitted spin-1 curve (∫ = 4A/3 for any ρ00)
    fx, fy = panel.flat_curve.getData()
    assert np.ptp(fy) < 1e-9 * fy[0]
    assert np.trapezoid(cy, cx) == pytest.approx(np.trapezoid(fy, fx), rel=1e-3)
    assert "fit ρ00 =" in panel.hist_text.toPlainText()
    assert panel.map_img.image is not None and panel.map_img.image.shape == res.survival_map.shape[1:]
    ax, ay = panel.almond_curves[0].getData()
    assert np.ptp(ay) > np.ptp(ax)  # the almond: longer out of plane at hadronization
    assert "K*0" in panel.headline.text() and "abstract" in panel.headline.text()
    # the energy scan starts by itself after the first run and fills all six curves
    qtbot.waitUntil(lambda: panel.scan_result is not None, timeout=180_000)
    for curve in panel.scan_curves.values():
        ex, ey = curve.getData()
        assert len(ex) == 8 and np.all(np.isfinite(ey))
    out = panel.export(tmp_path / "export")
    assert (out / "views.png").exists() and (out / "result.json").exists()
    assert (out / "energy_scan" / "energy_scan.csv").exists() and (out / "energy_scan" / "energy_scan.png").exists()
    # switching the meson and frame redraws without a new job
    before = np.asarray(panel.hist_bars.opts["height"]).copy()
    panel.meson_box.setCurrentIndex(2)
    panel.frame_box.setCurrentIndex(0)
    assert not np.array_equal(before, np.asarray(panel.hist_bars.opts["height"]))
    assert "ρ0" in panel.hist_plot.plotItem.titleLabel.text


def test_rescattering_toggle_removes_the_bias(panel, qtbot):
    panel.run_job(panel.config().replace(rescattering=False, n_resonances=5000))
    qtbot.waitUntil(lambda: panel.result is not None and not panel.result.config["rescattering"], timeout=60_000)
    assert np.allclose(panel.result.rho00_moment[:, :, 0], 1 / 3, atol=1e-6)


def test_delta_rho00_bars_follow_the_chosen_estimator(panel, qtbot):
    panel.run_job(panel.config().replace(estimator="fit", n_resonances=5000))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.config["estimator"] == "fit", timeout=60_000)
    res = panel.result
    shown = np.asarray(panel.bar_items["production_plane"].opts["height"])
    expected = [res.summary()["rho00"][m]["production_plane"]["value"] - 1 / 3 for m in ("kstar0", "phi", "rho0")]
    assert np.allclose(shown, expected, rtol=0, atol=1e-12)
    assert not np.allclose(shown, res.rho00_moment[:, 1, 0] - 1 / 3, rtol=0, atol=1e-9)


def test_open_file_analyses_an_oscar_file(panel, qtbot, tmp_path):
    path = write_oscar2013_extended(tmp_path / "events.oscar", simulate_events(Config(seed=3), 300))
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: "events.oscar" in panel.file_label.text() and "K*0" in panel.file_label.text(), timeout=60_000)
    bad = tmp_path / "bad.oscar"
    bad.write_text("not an oscar file\n")
    panel.open_file(str(bad))
    qtbot.waitUntil(lambda: "bad.oscar:1:" in panel.error.text(), timeout=60_000)
    assert "expected an OSCAR header" in panel.error.text()


def test_extra_controls_have_tooltips(panel):
    for w in (panel.meson_box, panel.frame_box, panel.scan_button, panel.file_label):
        assert w.toolTip()
