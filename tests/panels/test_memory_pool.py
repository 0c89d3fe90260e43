"""The memory-pool panel: builds, runs its default job through the job runner, draws every view."""

import numpy as np
import pytest

from panels.memory_pool import MemoryPoolPanel


@pytest.fixture
def panel(build_panel):
    return build_panel(MemoryPoolPanel)


def test_default_job_draws_every_view(panel, qtbot):
    job = panel.run_job()
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    res = panel.result
    assert set(res.runs) == {"static_chunked", "static_unchunked", "elastic"}
    # chunk map: one image, a frame per slider position, coloured cells
    assert panel.player.count == len(res.runs["elastic"].frames)
    img = panel.map_img.image
    assert img is not None and img.shape[2] == 3 and img.shape[0] == 256
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 4
    # stacked memory, batch, throughput and CDF curves received data
    base, curves = panel.mem_curves["elastic"]
    x, y = curves[-1].getData()
    assert len(x) > 10 and np.nanmax(y) > 60  # the top of the stack is the ~72 GiB cap
    for p in ("static_unchunked", "elastic"):
        assert len(panel.batch_curves[p].getData()[1]) > 10
        assert np.nanmax(panel.tput_curves[p].getData()[1]) > 0
        assert len(panel.cdf_curves[p][0].getData()[1]) == len(res.output_tokens)
    assert panel.table.rowCount() > 5 and panel.table.item(3, 2).text() == str(res.runs["elastic"].stats["max_batch"])
    # the sensitivity heatmap has one cell per (memory, input) pair
    assert panel.sens_img.image is not None and panel.sens_img.image.shape == (4, 5)
    # the banner says what it shows, then the engine's headline figures beside the paper's
    head = panel.headline.text()
    assert "generated long_context workload: 10 requests" in head
    for fig in res.headline().values():
        assert str(fig) in head
    assert "(paper: 2.32 ×)" in head and "(paper: 3 ×)" in head
    assert panel.source == panel.default_source()


def test_slider_and_policy_switch_redraw_the_chunk_map(panel, qtbot):
    panel.run_job()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    slider = panel.player.slider
    slider.setValue(0)
    first = panel.map_img.image.copy()
    slider.setValue(slider.maximum())
    assert not np.array_equal(first, panel.map_img.image)
    panel.map_policy.setCurrentIndex(1)  # static, unchunked
    assert "static, unchunked" in panel.map_info.text()
    panel.player.button.setChecked(True)
    v = slider.value()
    qtbot.waitUntil(lambda: slider.value() != v, timeout=5000)
    panel.player.button.setChecked(False)


def test_extra_controls_have_tooltips(panel):
    extra = (panel.map_policy, panel.player.button, panel.player.slider, panel.sens_model, panel.sens_base, panel.map_view, panel.cpu_view)
    for w in (*extra, panel.clear_button):
        assert w.toolTip()


def test_every_plot_axis_has_a_unit(panel):
    plots = [*panel.mem_plots.values(), panel.batch_plot, panel.tput_plot, panel.ttft_plot, panel.tpot_plot, panel.sens_plot]
    for w in plots:
        for side in ("left", "bottom"):
            label = w.getAxis(side).labelText
            assert "[" in label or label == "fraction of requests", (w.plotItem.titleLabel.text, side, label)


def test_open_file_replays_a_trace_and_reports_bad_rows(panel, qtbot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:10,1,x\n")
    panel.open_file(str(bad))
    assert "bad.csv:2" in panel.error.text()
    good = tmp_path / "good.csv"
    rows = "\n".join(f"2023-11-16 18:15:{10 + i:02d}.5,{300 + 40 * i},{30 + i}" for i in range(8))
    good.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + rows + "\n")
    panel.open_file(str(good))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.trace["requests"] == 8, timeout=120_000)
    # the "showing" line and the banner say which file the views show
    assert "good.csv" in panel.source and "trace good.csv: 8 requests" in panel.headline.text()


def test_one_policy_alone_draws_without_the_others(panel, qtbot):
    panel.run_job(panel.config().replace(policy="static_chunked", n_requests=3, sensitivity="off"))
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    assert set(panel.result.runs) == {"static_chunked"}
    assert "static, chunked" in panel.map_info.text()  # the map falls back to the policy that ran
    assert panel.table.columnCount() == 1
    assert "decode throughput, static, chunked 8K" in panel.headline.text()  # the one policy's own figures
    assert panel.source.startswith("Showing: your settings")
    x, _ = panel.mem_curves["elastic"][1][-1].getData()
    assert x is None or len(x) == 0
    assert "Set 'sensitivity'" in panel.sens_note.text()


def test_an_opened_trace_is_what_the_panel_shows_and_exports(panel, qtbot, tmp_path):
    import hashlib
    import json

    panel.set_config(panel.config().replace(sensitivity="off", n_requests=3))  # keep both jobs short
    good = tmp_path / "mine.csv"
    rows = "\n".join(f"2023-11-16 18:15:{10 + i:02d}.5,{300 + 40 * i},{30 + i}" for i in range(6))
    good.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + rows + "\n")
    panel.open_file(str(good))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.config.trace == str(good), timeout=120_000)
    assert panel.source.startswith("Showing: trace file mine.csv")
    assert panel.headline.text().startswith("<b>trace mine.csv: 6 requests")
    out = panel.export(tmp_path / "export")
    source = json.loads((out / "source.json").read_text())
    assert source["showing"] == panel.source
    assert source["opened"]["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert (out / source["opened"]["copy"]).read_bytes() == good.read_bytes()
    assert json.loads((out / "config.json").read_text())["trace"] == str(good)
    assert json.loads((out / "result.json").read_text())["trace"]["requests"] == 6
    # back to the generated workload: the views, the banner and the "showing" line all leave the file
    panel.clear_button.click()
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.config.trace == "", timeout=120_000)
    assert "mine.csv" not in panel.source and panel.headline.text().startswith("<b>generated")
    assert "opened" not in json.loads((panel.export(tmp_path / "again") / "source.json").read_text())


def test_opening_a_pipe_or_a_device_is_an_error_not_a_hang(panel, tmp_path):
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        panel.open_file(str(path))
        assert "not a regular file" in panel.error.text() and panel.job() is None
