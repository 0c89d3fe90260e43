"""The shell: a stable dock per panel, View menu, saved and restored layout, Papers dialog, device choice."""

from __future__ import annotations

import time

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QPushButton

from app.jobs import JobRunner, get_device, set_device
from app.main_window import JobWidget, MainWindow, PapersDialog
from engines.base import Snapshot
from panels import PANELS


def _window(qtbot, tmp_path, name="w.ini"):
    store = QSettings(str(tmp_path / name), QSettings.Format.IniFormat)
    window = MainWindow(runner=JobRunner(), store=store)
    qtbot.addWidget(window)
    return window, store


def test_one_dock_per_panel_with_stable_names_and_view_actions(qtbot, tmp_path):
    window, _ = _window(qtbot, tmp_path)
    assert [d.objectName() for d in window.docks.values()] == [f"dock_{s.id}" for s in PANELS]
    assert window.panels == {}, "no panel is built before its dock is shown"
    actions = [a.text() for a in window.view_menu.actions()]
    for s in PANELS:
        assert s.title in actions
    assert "Log" in actions and "&Reset Layout" in actions
    tabbed = window.tabifiedDockWidgets(window.docks[PANELS[0].id])
    assert len(tabbed) == len(PANELS) - 1, "panels share one tabbed area so ten fit a 1440x900 screen"


def test_a_panel_is_built_when_its_dock_is_first_shown_and_runs_its_default_job_once(qtbot, tmp_path, monkeypatch):
    from panels.base import Panel

    started = []
    monkeypatch.setattr(Panel, "run_job", lambda self, config=None: started.append(self.panel_id))
    window, _ = _window(qtbot, tmp_path)
    window.show()
    first, second = PANELS[0].id, PANELS[1].id
    qtbot.waitUntil(lambda: first in window.panels, timeout=30_000)
    assert set(window.panels) == {first}, "only the shown dock's panel is built"
    assert started == [first]
    assert window.docks[first].widget() is window.panels[first]
    window.docks[second].raise_()  # clicking its tab
    qtbot.waitUntil(lambda: second in window.panels, timeout=30_000)
    window.docks[first].raise_()
    window.docks[second].raise_()
    qtbot.wait(100)
    assert started == [first, second], "showing a dock again neither rebuilds its panel nor reruns its job"
    assert set(window.panels) == {first, second}
    window.runner.stop_all()


def test_layout_is_restored_on_the_next_start_and_reset_brings_docks_back(qtbot, tmp_path):
    window, store = _window(qtbot, tmp_path)
    window.show()
    hidden = window.docks[PANELS[-1].id]
    hidden.hide()
    window.save_layout()
    window.runner.stop_all()
    window.close()

    again = MainWindow(runner=JobRunner(), store=store)
    qtbot.addWidget(again)
    again.show()
    assert again.docks[PANELS[-1].id].isHidden()
    again.reset_layout()
    assert not again.docks[PANELS[-1].id].isHidden()
    again.runner.stop_all()


def test_papers_dialog_lists_ten_papers_and_marks_those_without_a_panel(qtbot):
    dialog = PapersDialog()
    qtbot.addWidget(dialog)
    table = dialog.table
    assert table.rowCount() == 10
    panels = [table.item(r, 0).text() for r in range(10)]
    assert sorted(p for p in panels if p != "no panel yet") == sorted(s.id for s in PANELS)
    assert panels.count("no panel yet") == 10 - len(PANELS)


def test_device_choice_reaches_new_jobs(qtbot, tmp_path):
    window, _ = _window(qtbot, tmp_path)
    try:
        window.set_device("cpu")
        assert get_device() == "cpu" and window.device_label.text() == "CPU"
        window.set_device("cuda")  # refused without CUDA here: the choice stays
        assert get_device() == "cpu" or window.device_label.text().startswith("CUDA")
    finally:
        set_device("auto")
        window.runner.stop_all()


def _endless():
    while True:
        time.sleep(0.01)
        yield Snapshot(0.25, "working", None)


def test_a_running_job_shows_progress_and_stop_in_the_status_bar_until_it_ends(qtbot, tmp_path):
    window, _ = _window(qtbot, tmp_path)
    job = window.runner.start("endless", _endless)
    widget = next(w for w in window.statusBar().findChildren(JobWidget) if w.job is job)
    qtbot.waitUntil(lambda: widget.bar.value() == 250, timeout=5000)
    with qtbot.waitSignal(job.stopped, timeout=2000):
        widget.findChild(QPushButton).click()
    qtbot.waitUntil(lambda: job not in [w.job for w in window.statusBar().findChildren(JobWidget)], timeout=2000)
    window.runner.stop_all()


def test_a_fresh_process_shows_the_window_before_building_any_panel_and_then_only_the_visible_one(tmp_path):
    import os

    from app.startup_bench import one_run

    marks = one_run(dict(os.environ, PAPER_WORKBENCH_SETTINGS=str(tmp_path / "s.ini")))
    assert marks["panels_registered"] == len(PANELS) and marks["panels_built"] == 1
    assert marks["shown_s"] <= marks["responsive_s"] <= marks["first_panel_s"] <= marks["first_job_started_s"]
