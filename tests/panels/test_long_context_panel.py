"""The long-context panel: opens on the recorded run, its heatmaps hold the recorded numbers, the calculator follows a
preset and an opened config.json (a malformed one is refused naming the key), the scaling redraws the wavelength band,
Train stops on Stop and Extend finishes.

Oracles: the recorded run's own files read here with numpy/json (not through the engine), KV-cache bytes by hand
(2 · layers · KV heads · head size · bytes · L), and which RoPE pairs a scaling interpolates from its definition.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from app.jobs import JobRunner
from panels.long_context import SHOWN_BY_DEFAULT, LongContextPanel

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "resources" / "long_context"
SCALINGS = ("none", "linear", "dynamic_ntk", "yarn", "llama3", "ultralong", "ultralong_control")  # the rows of arrays.npz
GIB = 2.0**30


@pytest.fixture
def panel(qtbot):
    p = LongContextPanel(runner=JobRunner())
    qtbot.addWidget(p)
    p.resize(1280, 800)
    p.show()
    return p


def opened(panel, qtbot) -> LongContextPanel:
    """The panel after its default job (the recorded run) has finished."""
    assert panel.run_job() is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    return panel


def choose(panel, field: str, value) -> None:
    box = panel.form.editor(field)
    i = box.findData(value)
    assert i >= 0, f"{field}: {value!r} not offered"
    box.setCurrentIndex(i)


def kv_at_128k_gib(panel) -> float:
    return float(panel.calc_table.item(0, 1).text().replace(",", ""))


def test_opens_on_the_recorded_run_and_the_heatmaps_hold_its_numbers(panel, qtbot):
    assert panel.default_config().source == "recorded"
    res = opened(panel, qtbot).result
    assert res.config.source == "recorded"
    with np.load(RECORDED / "arrays.npz") as npz:
        heat, ratios, depths = npz["heatmap"], npz["length_ratio"], npz["depths"]
    summary = json.loads((RECORDED / "result.json").read_text())
    provenance = json.loads((RECORDED / "provenance.json").read_text())
    assert heat.shape[0] == len(SCALINGS)
    for i, s in enumerate(SCALINGS):
        hm = panel.heatmaps[s]
        np.testing.assert_array_equal(hm.image.image, heat[i].T)  # rows: depths, columns: lengths
        x, y = panel.acc_curves[s].curve.getData()
        np.testing.assert_allclose(x, np.log2(ratios))
        np.testing.assert_allclose(y, summary["accuracy"][s], atol=1e-9)  # the mean over depths, as recorded
        assert panel.acc_curves[s].curve.isVisible() == (s in SHOWN_BY_DEFAULT)
    # a cell's annotation is the recorded number: plain RoPE at the deepest position, 8× L_train
    j = int(np.flatnonzero(np.isclose(ratios, 8.0))[0])
    texts = {(round(t.pos().x() - 0.5), round(t.pos().y() - 0.5)): t.toPlainText() for t in panel.heatmaps["none"].texts}
    assert texts[(j, 0)] == f"{heat[0, j, 0]:.0f}"
    assert len(texts) == heat.shape[1] * len(depths)
    # the selected scalings sit side by side; llama3 is not selected by default
    in_grid = {s for s, hm in panel.heatmaps.items() if panel.heat_grid.indexOf(hm.widget) >= 0}
    assert in_grid == set(SHOWN_BY_DEFAULT)
    # the banner: YaRN − plain at 8× and UltraLong at 1× against the base, computed here from the recorded grid
    gain = heat[SCALINGS.index("yarn"), j].mean() - heat[0, j].mean()
    assert gain >= 50
    head = panel.headline.text()
    assert f"YaRN − plain RoPE at 8× L_train: {gain:+.1f} points" in head
    ul, base = heat[SCALINGS.index("ultralong"), 0].mean(), heat[0, 0].mean()
    assert f"UltraLong at 1×: {ul:.1f} % vs base {base:.1f} %" in head
    assert f"(paper: {res.PAPER['niah_ultralong'].value:g} %" in head
    # the showing line: the recorded run and the command that remakes it
    assert provenance["command"] in panel.source and "recorded run" in panel.source
    assert provenance["commit"][:8] in panel.source


def test_unchecking_a_scaling_takes_its_heatmap_and_curve_away(panel, qtbot):
    opened(panel, qtbot)
    panel.shown_boxes["yarn"].setChecked(False)
    panel.shown_boxes["llama3"].setChecked(True)
    assert panel.heat_grid.indexOf(panel.heatmaps["yarn"].widget) < 0
    assert panel.heat_grid.indexOf(panel.heatmaps["llama3"].widget) >= 0
    assert not panel.acc_curves["yarn"].curve.isVisible() and panel.acc_curves["llama3"].curve.isVisible()
    key = panel.acc_key.text()
    assert "&nbsp;llama3" in key and "&nbsp;YaRN " not in key and not key.endswith("&nbsp;YaRN")


def test_calculator_preset_opened_config_and_malformed_config(panel, qtbot, tmp_path):
    opened(panel, qtbot)
    # Llama-3.1-8B at 128K: 2 · 32 layers · 8 KV heads · 128 · 2 bytes (bf16) · 131072 tokens = 16 GiB
    assert panel.calc_report.facts.name == "Llama-3.1-8B"
    assert kv_at_128k_gib(panel) == pytest.approx(2 * 32 * 8 * 128 * 2 * 131072 / GIB, abs=0.005)
    # a preset chosen in the tab: SmolLM2-135M, 30 layers · 3 KV heads · 64 · 2 bytes; the form's control follows
    panel.preset_box.setCurrentIndex(panel.preset_box.findData("SmolLM2-135M"))
    assert panel.form.editor("model").currentData() == "SmolLM2-135M"
    qtbot.waitUntil(lambda: panel.calc_report.facts.name == "SmolLM2-135M", timeout=60_000)
    assert kv_at_128k_gib(panel) == pytest.approx(2 * 30 * 3 * 64 * 2 * 131072 / GIB, abs=0.005)
    assert "SmolLM2-135M" in panel.calc_model.text()
    # a good config.json of a made-up model (4.x shape: rope_theta beside rope_scaling), float32
    good = tmp_path / "tiny" / "config.json"
    good.parent.mkdir()
    good.write_text(json.dumps({"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
                                "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 4096,
                                "rope_theta": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0},
                                "torch_dtype": "float32"}))
    panel.open_file(str(good))
    assert not panel.error.isVisible()
    qtbot.waitUntil(lambda: panel.calc_report.facts.hidden_size == 256, timeout=60_000)
    assert kv_at_128k_gib(panel) == pytest.approx(2 * 4 * 2 * 64 * 4 * 131072 / GIB, abs=0.005)  # 0.5 GiB
    assert panel.calc_report.rope_parameters["rope_type"] == "linear"
    assert str(good) in panel.calc_model.text() and panel.source_file == good
    assert panel.tabs.tabText(panel.tabs.currentIndex()) == "Calculator"
    # Export writes the calculator's table as shown, and records the opened file
    out = panel.export(tmp_path / "export")
    rows = list(csv.DictReader((out / "calculator" / "calculator_lengths.csv").open()))
    assert [f"{float(r['kv_cache_bytes']) / GIB:,.2f}" for r in rows] == [panel.calc_table.item(i, 1).text() for i in range(len(rows))]
    calc = panel.export_calculator(tmp_path / "calc")
    rows = list(csv.DictReader((calc / "calculator_lengths.csv").open()))
    assert [int(float(r["tokens"])) for r in rows] == [131072 * 2**k for k in range(6)]  # 128K … 4M
    assert float(rows[0]["kv_cache_bytes"]) == 2 * 4 * 2 * 64 * 4 * 131072
    pairs = list(csv.DictReader((calc / "calculator_wavelengths.csv").open()))
    assert len(pairs) == 32 and float(pairs[0]["wavelength"]) == pytest.approx(2 * math.pi)
    record = json.loads((calc / "calculator.json").read_text())
    assert record["model_config"] == str(good) and record["facts"]["hidden_size"] == 256
    assert (calc / "calculator.png").stat().st_size > 0
    source = json.loads((out / "source.json").read_text())
    assert source["file"]["path"] == str(good.resolve()) and source["file"]["bytes"] == good.stat().st_size
    # malformed: a key missing, a key of the wrong kind, not JSON: refused naming the key (or line), nothing redrawn
    shown = panel.calc_report
    cases = {"missing": ({"num_hidden_layers": 4, "num_attention_heads": 4}, "hidden_size"),
             "bad": ({"hidden_size": 256, "num_hidden_layers": "four", "num_attention_heads": 4}, "num_hidden_layers")}
    for name, (content, key) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(content))
        panel.open_file(str(path))
        assert panel.error.isVisible()
        assert key in panel.error.text() and str(path) in panel.error.text()
        assert panel.calc_report is shown
    broken = tmp_path / "broken.json"
    broken.write_text('{"hidden_size": 256,\n  "num_hidden_layers": }')
    panel.open_file(str(broken))
    assert f"{broken}:2:" in panel.error.text()  # file:line, as every reader names it
    panel.open_file(str(tmp_path))  # a folder
    assert "folder" in panel.error.text()
    # back to the preset ("Use the preset"), then another preset from the form: the tab's box follows
    panel.use_preset()
    qtbot.waitUntil(lambda: panel.calc_report.facts.name == "SmolLM2-135M", timeout=60_000)
    assert panel.source_file is None and panel.config().model_config == ""
    panel.open_file(str(good))
    qtbot.waitUntil(lambda: panel.calc_report.facts.hidden_size == 256, timeout=60_000)
    choose(panel, "model", "UltraLong-8B-1M")  # choosing a preset leaves the opened file
    qtbot.waitUntil(lambda: panel.calc_report.facts.name == "UltraLong-8B-1M", timeout=60_000)
    assert panel.preset_box.currentData() == "UltraLong-8B-1M" and panel.config().model_config == ""
    assert kv_at_128k_gib(panel) == pytest.approx(16.0, abs=0.005)  # the Llama-3.1-8B architecture


def band(item) -> tuple[float, float] | None:
    return tuple(item.getRegion()) if item.isVisible() else None


def test_the_scaling_redraws_the_wavelength_band(panel, qtbot):
    opened(panel, qtbot)
    rep = panel.calc_report
    n = len(rep.pair)
    assert (rep.facts.name, rep.scaling, rep.rope_parameters["rope_type"]) == ("Llama-3.1-8B", "model", "llama3")
    lam = panel.wave_unscaled.yData  # the data as given (getData() answers log10 on a log axis)
    np.testing.assert_allclose(lam, 2 * np.pi * 500000.0 ** (2 * np.arange(n) / (2 * n)), rtol=1e-6)  # λ_i = 2π·b^(2i/d)
    # llama3 (factor 8, low 1, high 4, L_orig 8192): wavelengths above 8192 divided by 8 (dark), below 2048 kept
    first_full = int(np.argmax(lam > 8192))
    assert band(panel.band_full) == (first_full - 0.5, n - 0.5)
    lo, hi = band(panel.band_blend)
    assert lam[math.ceil(lo)] >= 2048 and hi == first_full - 0.5
    # none: nothing interpolated, the scaled curve is the unscaled one
    choose(panel, "calc_scaling", "none")
    qtbot.waitUntil(lambda: panel.calc_report.scaling == "none", timeout=60_000)
    assert band(panel.band_full) is None and band(panel.band_blend) is None
    np.testing.assert_allclose(panel.wave_scaled.yData, lam, rtol=1e-9)
    # linear (s = L / L_orig = 16): every pair interpolated by the full factor
    choose(panel, "calc_scaling", "linear")
    qtbot.waitUntil(lambda: panel.calc_report.scaling == "linear", timeout=60_000)
    assert band(panel.band_full) == (-0.5, n - 0.5) and band(panel.band_blend) is None
    np.testing.assert_allclose(panel.wave_scaled.yData, 16 * lam, rtol=1e-6)
    # YaRN (β_slow = 1): pairs turning less than once in L_orig = 8192 are fully interpolated (truncate: ±1 pair)
    choose(panel, "calc_scaling", "yarn")
    qtbot.waitUntil(lambda: panel.calc_report.scaling == "yarn", timeout=60_000)
    lo, hi = band(panel.band_full)
    assert hi == n - 0.5 and abs((lo + 0.5) - int(np.argmax(lam > 8192))) <= 1
    assert "yarn" in panel.wave_info.text()


def test_the_toy_wavelengths_are_the_rows_rope(panel, qtbot):
    res = opened(panel, qtbot).result
    with np.load(RECORDED / "arrays.npz") as npz:
        theta, base = npz["theta"], npz["base_theta"]
    assert panel.toy_length.count() == len(res.lengths)
    for j in (0, len(res.lengths) - 1):
        panel.toy_length.setCurrentIndex(j)
        np.testing.assert_allclose(panel.toy_base.yData, 2 * np.pi / base)
        for i, s in enumerate(SCALINGS):
            assert panel.toy_curves[s].isVisible() == (s in SHOWN_BY_DEFAULT)
            if s in SHOWN_BY_DEFAULT:
                np.testing.assert_allclose(panel.toy_curves[s].yData, 2 * np.pi / theta[i, j])
    # at L_train every zero-shot scaling is plain RoPE (s = 1): linear's curve is the trained one
    panel.toy_length.setCurrentIndex(0)
    np.testing.assert_allclose(panel.toy_curves["linear"].yData, panel.toy_base.yData, rtol=1e-6)


def test_train_shows_progress_and_stops(panel, qtbot):
    opened(panel, qtbot)
    recorded = panel.result
    panel.train_button.click()
    assert panel.config().source == "train" and panel.exp_stop.isEnabled()
    qtbot.waitUntil(lambda: "base: step" in panel.exp_message.text(), timeout=180_000)
    assert panel.exp_progress.value() > 0
    panel.exp_stop.click()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)
    assert panel.exp_message.text() == "stopped" and not panel.exp_stop.isEnabled()
    assert panel.shown.config.source == "train" and len(panel.shown.base_answer_loss) > 0
    assert len(panel.loss_curves["base_answer_loss"].getData()[0]) == len(panel.shown.base_answer_loss)
    assert panel.result is recorded  # a stopped job leaves the last finished result
    assert "partial train run, stopped" in panel.source
    # the grid shows the stopped run (nothing evaluated yet), not the recorded numbers
    assert np.isnan(panel.shown.heatmap).all()  # stopped during the base training
    assert all(not hm.texts for hm in panel.heatmaps.values())
    y = panel.acc_curves["yarn"].curve.yData
    assert y is None or len(y) == 0


def test_extend_redoes_the_extension_from_the_recorded_base(panel, qtbot):
    opened(panel, qtbot)
    small = panel.config().replace(extend_factor=2, extend_steps=2, eval_lengths="1,2", n_depths=2, samples_per_cell=1)
    panel.set_config(small)
    panel.extend_button.click()
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.config.source == "extend", timeout=300_000)
    res = panel.result
    assert res.heatmap.shape == (len(SCALINGS), 2, 2)
    assert panel.heatmaps["ultralong"].image.image.shape == (2, 2)
    np.testing.assert_array_equal(panel.heatmaps["ultralong"].image.image, res.heatmap[SCALINGS.index("ultralong")].T)
    assert len(panel.loss_curves["ultralong_answer_loss"].getData()[0]) == 2
    assert panel.exp_progress.value() == 1000 and "extended now" in panel.source
