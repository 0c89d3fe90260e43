"""The ρ00 explorer: builds, runs its default job and the energy scan through the job runner, draws every view; an opened
OSCAR file (SMASH's own layout) becomes what the views show, with the reason in words where it has no pairs."""

import json
from pathlib import Path

import numpy as np
import pytest

from engines.spin_alignment import Config, simulate_events
from panels.spin_alignment import SpinAlignmentPanel
from tests.engines.spin_alignment.smash_layout import hadron_gas, merge, write_smash
from tests.screenshots import compare

BASELINE = Path(__file__).resolve().parents[1] / "screenshots" / "baselines" / "spin_alignment_file.png"


@pytest.fixture
def panel(build_panel):
    return build_panel(SpinAlignmentPanel)


@pytest.fixture(scope="module")
def smash_files(tmp_path_factory):
    """Two files as SMASH 3 writes particle_lists.oscar (Extended): one with K*0, φ, ρ0 decays among a hadron gas, one
    hadron gas whose particles come from other processes only."""
    folder = tmp_path_factory.mktemp("smash")
    decays = simulate_events(Config(seed=3), 600)
    with_decays = write_smash(folder / "au_au_decays.oscar", merge(decays, hadron_gas(decays.n_lists, 40, seed=1)))
    without = write_smash(folder / "au_au_no_decays.oscar", hadron_gas(20, 80, seed=2))
    return with_decays, without


def _texts(panel) -> str:
    """Everything written on screen: banner, showing line, histogram box, plot titles."""
    titles = [p.plotItem.titleLabel.text for p in (panel.hist_plot, panel.bar_plot, panel.scan_plot, panel.map_plot)]
    return "\n".join([panel.headline.text(), panel.source_label.text(), panel.hist_text.toPlainText(), *titles])


def test_default_job_and_energy_scan_draw_every_view(panel, qtbot, tmp_path):
    job = panel.run_job()
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    res = panel.result
    assert res.source is None and panel.shown is res and panel.model is res
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
    assert not panel.back_button.isVisibleTo(panel)
    # the energy scan starts by itself after the first run (a side job) and fills all six curves
    qtbot.waitUntil(lambda: "energy_scan" in panel.results, timeout=180_000)
    scan = panel.results["energy_scan"]
    for (m, f), curve in panel.scan_curves.items():
        ex, ey = curve.getData()
        assert len(ex) == 8 and np.allclose(ey, scan.energy_scan_delta[:, ("kstar0", "phi", "rho0").index(m),
                                                                        ("reaction_plane", "production_plane").index(f), 0])
    out = panel.export(tmp_path / "export")
    assert (out / "views.png").exists() and (out / "result.json").exists()
    assert (out / "energy_scan" / "energy_scan.csv").exists() and (out / "energy_scan" / "energy_scan.png").exists()
    assert "the model" in json.loads((out / "source.json").read_text())["showing"]
    # switching the meson and frame redraws without a new job
    before = np.asarray(panel.hist_bars.opts["height"]).copy()
    panel.meson_box.setCurrentIndex(2)
    panel.frame_box.setCurrentIndex(0)
    assert not np.array_equal(before, np.asarray(panel.hist_bars.opts["height"]))
    assert "ρ0" in panel.hist_plot.plotItem.titleLabel.text


def test_rescattering_toggle_removes_the_bias(panel, qtbot):
    panel.run_job(panel.config().replace(rescattering=False, n_resonances=5000))
    qtbot.waitUntil(lambda: panel.result is not None and not panel.result.config.rescattering, timeout=60_000)
    assert np.allclose(panel.result.rho00_moment[:, :, 0], 1 / 3, atol=1e-6)


def test_delta_rho00_bars_draw_the_results_delta(panel, qtbot):
    panel.run_job(panel.config().replace(estimator="fit", n_resonances=5000))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.config.estimator == "fit", timeout=60_000)
    res = panel.result
    shown = np.asarray(panel.bar_items["production_plane"].opts["height"])
    assert np.array_equal(shown, res.delta_rho00[:, 1, 0])
    expected = [res.summary()["rho00"][m]["production_plane"]["value"] - 1 / 3 for m in ("kstar0", "phi", "rho0")]
    assert np.allclose(shown, expected, rtol=0, atol=1e-12)
    assert not np.allclose(shown, res.rho00_moment[:, 1, 0] - 1 / 3, rtol=0, atol=1e-9)


def test_an_opened_smash_file_with_decays_becomes_what_the_views_show(panel, qtbot, smash_files, tmp_path):
    with_decays, _ = smash_files
    panel.run_blocking()  # the model first: its Δρ00 is the comparison
    model = panel.model
    panel.open_file(str(with_decays))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.source is not None, timeout=60_000)
    res = panel.shown
    assert res is panel.result and res.source.name == "au_au_decays.oscar" and all(res.source.accepted)
    # the histogram is the file's (PP frame of K*0 by default), with its fit and counts
    assert np.array_equal(np.asarray(panel.hist_bars.opts["height"]), res.hist[0, 1]) and panel.hist_bars.isVisible()
    assert panel.fit_curve.isVisible()
    assert f"{res.source.accepted[0]:,} pairs from {res.source.events:,} events" in panel.hist_text.toPlainText()
    for m in range(3):
        for f in range(3):
            panel.meson_box.setCurrentIndex(m)
            panel.frame_box.setCurrentIndex(f)
            assert np.array_equal(np.asarray(panel.hist_bars.opts["height"]), res.hist[m, f])
    # the file's Δρ00 bars beside the model's
    assert np.array_equal(np.asarray(panel.bar_items["reaction_plane"].opts["height"]), res.delta_rho00[:, 0, 0])
    assert panel.model_bars["production_plane"].isVisible()
    assert np.array_equal(np.asarray(panel.model_bars["production_plane"].opts["height"]), model.delta_rho00[:, 1, 0])
    text = _texts(panel)
    assert "File au_au_decays.oscar" in panel.headline.text() and "Back to the model" in panel.headline.text()
    assert str(with_decays) in panel.source and str(with_decays) == panel.source_label.toolTip()
    assert "au_au_decays.oscar" in panel.source_label.text() and f"{res.source.events:,} events" in panel.source_label.text()
    assert "nan" not in text.lower()
    assert panel.back_button.isVisibleTo(panel)
    # Export holds what was opened: the file's result, the model's beside it, and the showing line
    out = panel.export(tmp_path / "export")
    summary = json.loads((out / "result.json").read_text())
    assert summary["source"]["file"] == str(with_decays) and (out / "model" / "result.json").exists()
    assert str(with_decays) in json.loads((out / "source.json").read_text())["showing"]
    # back to the model
    panel.back_button.click()
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.source is None, timeout=60_000)
    assert "model" not in panel.results and not panel.back_button.isVisibleTo(panel)
    assert "File" not in panel.headline.text() and "the model" in panel.source_label.text()


def test_a_file_without_those_decays_says_why_in_plain_words(panel, qtbot, smash_files):
    _, without = smash_files
    panel.open_file(str(without))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.source is not None, timeout=60_000)
    src = panel.result.source
    assert src.accepted == (0, 0, 0)
    assert "no pairs — no K*0 decays recorded; read" in panel.headline.text() and "20 events" in panel.headline.text()
    assert "charged kaons" in panel.headline.text()
    assert not panel.hist_bars.isVisible() and not panel.fit_curve.isVisible()
    box = panel.hist_text.toPlainText()
    assert box.startswith("No K*0 pairs in au_au_no_decays.oscar") and "1,600 particles" in box.replace("\n", " ")
    assert all(label.isVisible() for label in panel.no_pairs)
    assert "nan" not in _texts(panel).lower()
    assert "a file has none" in panel.map_plot.plotItem.titleLabel.text  # no model ran yet: no map, said so
    assert "the file's 0 pairs" in panel.hist_plot.plotItem.titleLabel.text


def test_a_malformed_file_is_refused_by_file_and_line(panel, qtbot, tmp_path):
    bad = tmp_path / "bad.oscar"
    bad.write_text("not an oscar file\n")
    panel.open_file(str(bad))
    qtbot.waitUntil(lambda: "bad.oscar:1:" in panel.error.text(), timeout=60_000)
    assert "expected an OSCAR header" in panel.error.text()


def test_extra_controls_have_tooltips(panel):
    for w in (panel.meson_box, panel.frame_box, panel.scan_button, panel.back_button):
        assert w.toolTip()


def test_an_opened_file_matches_its_screenshot_baseline(build_panel, qtbot, smash_files, update_screenshots):
    """The ρ00 panel at 1280×800 showing the SMASH file with decays after the default job (second baseline)."""
    panel = build_panel(SpinAlignmentPanel, show=True)
    qtbot.wait(200)
    panel.run_blocking()
    panel.run_blocking(panel.file_config(str(smash_files[0])))
    qtbot.wait(300)
    actual = compare.to_array(panel.grab().toImage())
    assert actual[..., :3].std() > 5, "the panel rendered blank"
    if update_screenshots:
        compare.from_array(actual).save(str(BASELINE))
        pytest.skip(f"baseline rewritten: {BASELINE.name}")
    assert BASELINE.exists(), "no baseline: run `pytest tests/panels/test_spin_alignment.py --update-screenshots`"
    expected = compare.load(BASELINE)
    assert expected.shape == actual.shape
    mask = compare.differing(actual, expected)
    if mask.sum() > compare.MAX_DIFFERING_FRACTION * mask.size:
        failures = BASELINE.parent.parent / "failures"
        failures.mkdir(exist_ok=True)
        compare.from_array(actual).save(str(failures / "spin_alignment_file-actual.png"))
        compare.from_array(compare.diff_image(actual, expected, mask)).save(str(failures / "spin_alignment_file-diff.png"))
    assert mask.sum() <= compare.MAX_DIFFERING_FRACTION * mask.size, f"{int(mask.sum())} pixels differ; see tests/screenshots/failures"
