"""The long-CoT steering panel: opens the recorded run, draws every view from the result, shows generations side by side."""

import numpy as np
import pytest

from engines.long_cot_steering import CONDITIONS
from panels.long_cot_steering import HIGHLIGHT, LongCotSteeringPanel


@pytest.fixture
def panel(build_panel):
    return build_panel(LongCotSteeringPanel)


def test_default_job_draws_every_view(panel, qtbot):
    assert panel.run_job() is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    r = panel.result
    assert r.recorded is not None  # the default job is the recorded run
    # trajectory: measured points with the fitted curves
    x, y = panel.traj.curve.getData()
    assert len(x) == np.isfinite(r.trajectory).sum() > 5
    fx, fy = panel.fit_log.getData()
    assert len(fx) == len(r.decay["t"]) and np.allclose(fy, r.fitted("log"))
    assert len(panel.fit_exp.getData()[0]) == len(r.decay["t"])
    # selected units: one bar group per layer holding units, heights the scores
    heights = np.concatenate([b.opts["height"] for b in panel.unit_bars])
    assert sorted(heights) == sorted(r.unit_score)
    # bars per condition with the result's numbers
    rows = r.conditions()
    for key, (_plot, item, _err) in panel.metric_plots.items():
        assert np.allclose(item.opts["height"], [rows[c][key] for c in CONDITIONS])
    # generations: baseline beside control, reflections highlighted
    assert panel.right_box.currentData() == "control"
    html = panel.right_text.toHtml()
    assert r.examples["control"][0]["prompt"] in panel.right_text.toPlainText()
    if any(refl for ex in r.examples["control"] for _, refl in ex["segments"]):
        assert HIGHLIGHT in html
    panel.right_box.setCurrentIndex(0)
    assert panel.right_title.text() == "<b>constant</b>"
    # banner: headline figures beside the paper's
    head = panel.headline.text()
    assert "(paper: 0.033)" in head and "(paper: 0.17)" in head
    assert "recorded run" in panel.source and str(rows["baseline"]["responses"]) in panel.source


def test_model_selector_says_how_to_get_smollm2(panel):
    text = panel.smol_label.text()
    assert "smollm2" in text.lower()
    assert "installed" in text


def test_smollm2_recorded_run_opens_without_the_model(panel, qtbot):
    panel.set_config(panel.engine.Config(model="smollm2", recorded=True))
    assert panel.run_job() is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    r = panel.result
    assert r.model_info["layers"] == 30 and all(layer >= 28 for layer in r.layers)
    assert "SmolLM2" in panel.source
    assert len(panel.traj.curve.getData()[0]) > 5
