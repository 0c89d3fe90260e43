"""The workbench window: one dock per registered panel, a log dock, menus, status bar with jobs."""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import time
import traceback

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import style
from app.jobs import Job, JobRunner, default_runner, get_device, set_device
from app.log import LogView
from panels import PANELS, PanelSpec

log = logging.getLogger("workbench.app")

SETTINGS_ENV = "PAPER_WORKBENCH_SETTINGS"
LAYOUT_VERSION = 1


def settings() -> QSettings:
    """The user's settings, or an INI file named by $PAPER_WORKBENCH_SETTINGS (tests, portable use)."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("PaperWorkbench", "workbench")


def papers() -> list[dict]:
    return json.loads((style.RESOURCES / "papers.json").read_text())


class PapersDialog(QDialog):
    """Help > Papers: every seed paper, its arXiv id, the claim its panel reproduces, and whether it has one."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Papers")
        rows = papers()
        registered = {s.id for s in PANELS}
        table = QTableWidget(len(rows), 4)
        table.setHorizontalHeaderLabels(["Panel", "arXiv", "Paper", "Claim reproduced"])
        for i, p in enumerate(rows):
            has = p["panel"] in registered
            cells = [p["panel"] if has else "no panel yet", p["arxiv"], p["title"], p["claim"]]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if not has:
                    item.setForeground(Qt.GlobalColor.gray)
                table.setItem(i, j, item)
        table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        table.setWordWrap(True)
        table.resizeColumnsToContents()
        table.setColumnWidth(2, 320)
        table.resizeRowsToContents()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(1100, 480)


class JobWidget(QWidget):
    """A running job in the status bar: its title, a progress bar, a Stop button."""

    def __init__(self, job: Job, parent=None):
        super().__init__(parent)
        self.job = job
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel(job.title))
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(120)
        self.bar.setMaximumHeight(14)
        layout.addWidget(self.bar)
        stop = QPushButton("Stop")
        stop.setToolTip(f"Stop {job.title}")
        stop.clicked.connect(job.stop)
        layout.addWidget(stop)
        job.progress.connect(lambda p, _m: self.bar.setValue(int(1000 * p)))


def _device_module():
    from engines import device

    return device


class Background(QObject):
    """Runs a function in a daemon thread and hands its value (or exception) to the GUI thread as ``done(key, value)``."""

    done = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.threads: list[threading.Thread] = []

    def busy(self) -> bool:
        self.threads = [t for t in self.threads if t.is_alive()]
        return bool(self.threads)

    def wait(self, timeout_s: float) -> None:
        """Let running work end (an import half done when the interpreter exits can crash it), at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def run(self, key: str, fn) -> None:
        def work():
            try:
                value = fn()
            except Exception as err:  # reported by the receiver, never raised into Qt
                value = err
            try:
                self.done.emit(key, value)
            except RuntimeError:  # the window (and this object) was closed and deleted meanwhile
                pass

        thread = threading.Thread(target=work, name=f"background {key}", daemon=True)
        self.threads.append(thread)
        thread.start()


class MainWindow(QMainWindow):
    """Docks for every registered panel (tabbed together), a log dock, View/File/Help menus."""

    def __init__(self, runner: JobRunner | None = None, store: QSettings | None = None, restore: bool = True):
        super().__init__()
        self.setWindowTitle("Paper Workbench")
        self.runner = runner or default_runner()
        self.store = store if store is not None else settings()
        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, QWidget] = {}  # the panels built so far (a dock builds its panel when first shown)
        self._failed: set[str] = set()
        self._loading: set[str] = set()
        self._background = Background(self)
        self._background.done.connect(self._background_done)
        self.setDockOptions(QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks)
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        self.log_view = LogView()  # first, so that panel build errors reach it

        first = None
        for spec in PANELS:
            dock = self._make_dock(spec)
            self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, dock)
            if first is None:
                first = dock
            else:
                self.tabifyDockWidget(first, dock)
        self.log_dock = QDockWidget("Log")
        self.log_dock.setObjectName("dock_log")
        self.log_dock.setWidget(self.log_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        if first is not None:
            first.raise_()
            self.resizeDocks([first, self.log_dock], [760, 110], Qt.Orientation.Vertical)

        self._build_menus()
        self._build_status_bar()
        self.runner.job_started.connect(self._on_job_started)
        self.resize(1440, 900)
        self._default_state = self.saveState(LAYOUT_VERSION)
        if restore:
            self.restore_layout()
        log.info("workbench ready: %d panels registered", len(self.docks))

    # ---- docks ---------------------------------------------------------------------------------
    def _make_dock(self, spec: PanelSpec) -> QDockWidget:
        """A dock whose panel is built the first time the dock is shown (start-up does not grow with the panels)."""
        dock = QDockWidget(spec.title)
        dock.setObjectName(f"dock_{spec.id}")
        dock.setToolTip(f"{spec.title} — arXiv:{spec.arxiv}\n{spec.summary}")
        placeholder = QLabel(f"{spec.title}\n(built when first shown)")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dock.setWidget(placeholder)
        # queued: the dock becomes visible inside a layout change (a tab click, restoreState); build after it settles
        dock.visibilityChanged.connect(
            lambda visible, pid=spec.id: visible and QTimer.singleShot(0, lambda: self._dock_shown(pid)))
        self.docks[spec.id] = dock
        return dock

    def _dock_shown(self, panel_id: str) -> None:
        """Import the panel's module (its engine, torch, pyqtgraph: seconds) off the GUI thread, then build it here."""
        dock = self.docks[panel_id]
        if panel_id in self.panels or panel_id in self._loading or not dock.isVisible() or dock.visibleRegion().isEmpty():
            return
        spec = next(s for s in PANELS if s.id == panel_id)
        module = getattr(spec.factory, "module", None)
        if module is None:
            self.build_panel(panel_id)
            return
        self._loading.add(panel_id)
        placeholder = dock.widget()
        if isinstance(placeholder, QLabel):
            placeholder.setText(f"{spec.title}\nloading…")
        self._background.run(panel_id, lambda: importlib.import_module(module))

    def _background_done(self, key: str, value) -> None:
        if key == "device":
            self._show_device_probe(value)
            return
        self._loading.discard(key)
        if isinstance(value, Exception):
            log.error("panel %s failed to import: %s", key, value)
        self.build_panel(key)  # an import error surfaces again here, as the panel's build error

    def build_panel(self, panel_id: str):
        """The panel of ``panel_id``, built (and its default job started) the first time it is asked for."""
        if panel_id in self.panels:
            return self.panels[panel_id]
        if panel_id in self._failed:
            return None
        spec = next(s for s in PANELS if s.id == panel_id)
        dock = self.docks[panel_id]
        try:
            panel = spec.factory(runner=self.runner)
        except Exception as err:  # a broken panel must not take the window down
            log.error("panel %s failed to build: %s\n%s", spec.id, err, traceback.format_exc())
            self._failed.add(panel_id)
            label = QLabel(f"{spec.title} could not be built:\n{type(err).__name__}: {err}\n(see the log)")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            dock.setWidget(label)
            return None
        self.panels[panel_id] = panel
        dock.setWidget(panel)
        log.info("panel built: %s", spec.title)
        panel.run_job()  # the first time a panel is shown it runs its default job: it opens on a meaningful picture
        return panel

    def current_panel(self):
        for pid, dock in self.docks.items():
            if not dock.visibleRegion().isEmpty():
                return self.build_panel(pid)
        return None

    # ---- menus ---------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open in current panel…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._open_file)
        file_menu.addAction(open_action)
        export_action = QAction("&Export current panel…", self)
        export_action.setShortcut(QKeySequence("Ctrl+E"))
        export_action.triggered.connect(self._export)
        file_menu.addAction(export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        self.view_menu = self.menuBar().addMenu("&View")
        for dock in [*self.docks.values(), self.log_dock]:
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        reset = QAction("&Reset Layout", self)
        reset.triggered.connect(self.reset_layout)
        self.view_menu.addAction(reset)

        help_menu = self.menuBar().addMenu("&Help")
        papers_action = QAction("&Papers…", self)
        papers_action.triggered.connect(lambda: PapersDialog(self).exec())
        help_menu.addAction(papers_action)

    def _open_file(self) -> None:
        panel = self.current_panel()
        if panel is None or not getattr(panel, "file_filter", ""):
            QMessageBox.information(self, "Open", "The current panel opens no files.")
            return
        path, _ = QFileDialog.getOpenFileName(self, f"Open in {panel.title}", "", panel.file_filter)
        if path:
            try:
                panel.open_file(path)
            except (OSError, ValueError) as err:
                panel.show_error(str(err))

    def _export(self) -> None:
        panel = self.current_panel()
        if panel is not None:
            panel.ask_export()

    # ---- status bar ----------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.device_combo.setToolTip("Compute device for new jobs: auto picks CUDA when torch sees one, else the CPU")
        self.device_combo.setCurrentText(get_device())
        self.device_combo.currentTextChanged.connect(self.set_device)
        self.device_label = QLabel("detecting…")
        self.device_label.setToolTip("The device new jobs compute on")
        bar.addPermanentWidget(QLabel("Device:"))
        bar.addPermanentWidget(self.device_combo)
        bar.addPermanentWidget(self.device_label)
        # asking torch about CUDA imports torch (1–2 s): off the GUI thread, so the window is up at once
        self._background.run("device", lambda: (_device_module().cuda_available(), _device_module().describe(get_device())))

    def _show_device_probe(self, value) -> None:
        if isinstance(value, Exception):
            self.device_label.setText("CPU")
            log.error("device probe failed: %s", value)
            return
        has_cuda, label = value
        if not has_cuda:
            self.device_combo.model().item(2).setEnabled(False)
        self.device_label.setText(label)
        log.info("compute device: %s", label)

    def set_device(self, name: str) -> None:
        from engines import device

        try:
            label = device.describe(name)
        except ValueError as err:
            log.error("%s", err)
            self.device_combo.setCurrentText(get_device())
            return
        set_device(name)
        self.device_combo.setCurrentText(name)
        self.device_label.setText(label)
        log.info("compute device: %s", label)

    def _on_job_started(self, job: Job) -> None:
        widget = JobWidget(job)
        self.statusBar().addWidget(widget)
        job.ended.connect(lambda: (self.statusBar().removeWidget(widget), widget.deleteLater()))

    # ---- layout persistence --------------------------------------------------------------------
    def restore_layout(self) -> None:
        geometry = self.store.value("window/geometry")
        state = self.store.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)

    def save_layout(self) -> None:
        self.store.setValue("window/geometry", self.saveGeometry())
        self.store.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.store.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()
        self.log_dock.show()
        next(iter(self.docks.values())).raise_()

    def busy(self) -> bool:
        """Whether a panel is still loading, a background probe or a job is still running."""
        return bool(self._loading or self._background.busy() or self.runner.jobs)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.runner.stop_all()
        self._background.wait(15.0)
        self.log_view.detach()
        super().closeEvent(event)
