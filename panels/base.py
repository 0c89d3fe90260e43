"""The panel base class: controls on the left (generated from the engine's Config), views on the right.

A subclass names its engine, builds its views once in ``build_views`` and draws each snapshot in
``show_snapshot`` (``setData`` on items made once; never rebuild widgets per update). It holds no
science: every number it shows comes from the engine's result.

Subclass API::

    class MyPanel(Panel):
        engine_name = "my_engine"        # engines.<name>
        live = True                      # re-run (debounced) whenever a control changes
        form_groups = ("Arm", "Barrier") # optional: order of the generated control groups
        file_filter = "OSCAR (*.oscar *.dat)"  # optional: File > Open goes to open_file(path)

        def build_views(self) -> QWidget: ...
        def show_snapshot(self, snap): ...
        def open_file(self, path): ...   # optional

Helpers: ``self.config()``, ``self.set_config(cfg)``, ``self.run_job()``, ``self.start_job(...)``,
``self.add_controls(widget)``, ``self.set_headline(text)``, ``self.show_error(text)``, ``self.result``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

import engines
from app.jobs import Job, JobRunner, default_runner, get_device
from engines.base import Snapshot, jsonable

log = logging.getLogger("workbench.panels")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


class ConfigForm(QWidget):
    """Controls for a Config class, one per field with ``gui=True``, grouped by the field's ``group``.

    Every control's tooltip is the field's doc, unit and allowed range. ``changed`` fires on edits.
    """

    changed = Signal()

    def __init__(self, config_cls, groups: tuple[str, ...] = (), parent=None):
        super().__init__(parent)
        self.config_cls = config_cls
        self._rows = [r for r in config_cls.describe() if r["gui"]]
        self._editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        names = list(groups) + [g for g in dict.fromkeys(r["group"] or "Settings" for r in self._rows) if g not in groups]
        boxes = {}
        for name in names:
            box = QGroupBox(name)
            box.setLayout(QFormLayout())
            box.layout().setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            boxes[name] = box
        for row in self._rows:
            editor = self._make_editor(row)
            self._editors[row["name"]] = editor
            tip = row["doc"] + (f"\nunit: {row['unit']}" if row["unit"] else "") + f"\nallowed: {row['allowed']}"
            editor.setToolTip(tip)
            label = QLabel(row["name"].replace("_", " ") + (f" [{row['unit']}]" if row["unit"] else ""))
            label.setToolTip(tip)
            boxes[row["group"] or "Settings"].layout().addRow(label, editor)
        for name in names:
            if boxes[name].layout().rowCount():
                layout.addWidget(boxes[name])

    def _make_editor(self, row: dict) -> QWidget:
        default = row["default"]
        if row["choices"]:
            w = QComboBox()
            for c in row["choices"]:
                w.addItem(_fmt(c), c)
            w.setCurrentIndex(list(row["choices"]).index(default))
            w.currentIndexChanged.connect(self.changed)
        elif row["type"] == "bool":
            w = QCheckBox()
            w.setChecked(bool(default))
            w.toggled.connect(self.changed)
        elif row["type"] == "int" and not row["optional"]:
            w = QSpinBox()
            w.setRange(int(row["lo"]) if row["lo"] is not None else -(2**31) + 1, int(row["hi"]) if row["hi"] is not None else 2**31 - 1)
            w.setValue(int(default))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self.changed)
        else:
            w = QLineEdit(_fmt(default))
            w.editingFinished.connect(self.changed)
        return w

    def values(self) -> dict[str, str | int | bool]:
        out = {}
        for name, w in self._editors.items():
            if isinstance(w, QComboBox):
                out[name] = w.currentData()
            elif isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QSpinBox):
                out[name] = w.value()
            else:
                out[name] = w.text()
        return out

    def config(self, base=None):
        """A validated Config from the controls (ValueError names the field)."""
        base = base if base is not None else self.config_cls()
        values = self.values()
        texts = {k: v for k, v in values.items() if isinstance(v, str)}
        direct = {k: v for k, v in values.items() if not isinstance(v, str)}
        return self.config_cls.from_strings(texts, base=base.replace(**direct) if direct else base)

    def set_config(self, config) -> None:
        for name, w in self._editors.items():
            value = getattr(config, name)
            w.blockSignals(True)
            if isinstance(w, QComboBox):
                w.setCurrentIndex(max(0, w.findData(value)))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
            else:
                w.setText(_fmt(value))
            w.blockSignals(False)

    def editor(self, name: str) -> QWidget:
        return self._editors[name]


class Panel(QWidget):
    """One paper's instrument: controls bound to one engine, views fed by its snapshots."""

    engine_name: str = ""
    live: bool = False
    form_groups: tuple[str, ...] = ()
    file_filter: str = ""

    def __init__(self, runner: JobRunner | None = None, parent=None):
        super().__init__(parent)
        self.engine = engines.load(self.engine_name)
        self.runner = runner or default_runner()
        self.result = None
        self._jobs: dict[str, Job] = {}
        self._base_config = self.default_config()

        self.form = ConfigForm(self.engine.Config, self.form_groups)
        self.form.set_config(self._base_config)
        self.form.changed.connect(self._on_form_changed)

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the engine with these settings (off the GUI thread)")
        self.run_button.clicked.connect(lambda: self.run_job())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running job; the last partial result stays on screen")
        self.stop_button.clicked.connect(self.stop_jobs)
        self.stop_button.setEnabled(False)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the views as PNG and the result as JSON, CSV and NPZ into a folder")
        self.export_button.clicked.connect(self.ask_export)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.headline = QLabel("")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()

        controls = QWidget()
        self._controls_layout = QVBoxLayout(controls)
        self._controls_layout.addWidget(self.form)
        self._extra_at = self._controls_layout.count()
        buttons = QHBoxLayout()
        for b in (self.run_button, self.stop_button, self.export_button):
            buttons.addWidget(b)
        self._controls_layout.addLayout(buttons)
        self._controls_layout.addWidget(self.progress)
        self._controls_layout.addWidget(self.message)
        self._controls_layout.addWidget(self.headline)
        self._controls_layout.addWidget(self.error)
        self._controls_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(380)

        self.views = self.build_views()
        self.views.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(self.views)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 950])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(split)

        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(250)
        self._live_timer.timeout.connect(lambda: self.run_job())

    # ---- for subclasses -------------------------------------------------------------------------
    def default_config(self):
        """The panel's default job (the engine's defaults unless a subclass chooses otherwise)."""
        return self.engine.Config()

    def build_views(self) -> QWidget:
        raise NotImplementedError

    def show_snapshot(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def open_file(self, path: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} opens no files")

    def export(self, out_dir: str | Path) -> Path:
        """PNG of the views plus the result's JSON/CSV/NPZ/figures."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.views.grab().save(str(out / "views.png"))
        if self.result is not None:
            self.result.save(out)
        (out / "config.json").write_text(json.dumps(jsonable(self.config().to_dict()), indent=2) + "\n")
        return out

    # ---- helpers -------------------------------------------------------------------------------
    def add_controls(self, widget: QWidget) -> None:
        """Put an extra control group under the generated form."""
        self._controls_layout.insertWidget(self._extra_at, widget)
        self._extra_at += 1

    def config(self):
        return self.form.config(self._base_config)

    def set_config(self, config) -> None:
        self._base_config = config
        self.form.set_config(config)

    def set_headline(self, html: str) -> None:
        self.headline.setText(html)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        if text:
            log.error("%s: %s", self.engine_name, text)

    def run_job(self, config=None) -> Job | None:
        """Run the engine's stream on ``config`` (default: the controls) in the main slot."""
        try:
            cfg = config if config is not None else self.config()
        except ValueError as err:
            self.show_error(str(err))
            return None
        return self.start_stream("main", cfg, self._on_main_snapshot)

    def start_stream(self, slot: str, config, on_snapshot: Callable[[Snapshot], None]) -> Job:
        """Start the engine's stream on ``config``, on the device chosen now, in ``slot`` (see ``start_job``)."""
        device = get_device()
        return self.start_job(slot, lambda: self.engine.stream(config, device=device), on_snapshot)

    def start_job(self, slot: str, make_stream: Callable[[], Iterator[Snapshot]], on_snapshot: Callable[[Snapshot], None]) -> Job:
        """Start a job in ``slot``, stopping the one already there; only the newest job's snapshots are drawn."""
        old = self._jobs.get(slot)
        if old is not None and old.is_running():
            old.stop()
        self.show_error("")
        job = self.runner.start(f"{self.engine_name}: {slot}", make_stream)
        self._jobs[slot] = job

        def current() -> bool:
            return self._jobs.get(slot) is job

        job.snapshot.connect(lambda snap: current() and on_snapshot(snap))
        job.progress.connect(lambda p, m: current() and self._on_progress(p, m))
        job.failed.connect(lambda msg, tb: current() and self.show_error(msg))
        job.stopped.connect(lambda: current() and self.message.setText("stopped"))
        job.ended.connect(self._update_buttons)
        self._update_buttons()
        return job

    def stop_jobs(self) -> None:
        for job in self._jobs.values():
            if job.is_running():
                job.stop()

    def run_blocking(self, config=None) -> None:
        """Run the default (or given) job in this thread and draw its final snapshot: screenshots and tests."""
        self._on_main_snapshot(self.final_snapshot(config if config is not None else self.config()))

    def final_snapshot(self, config) -> Snapshot:
        """Run the engine's stream on ``config`` in this thread and return its last snapshot."""
        last = None
        for snap in self.engine.stream(config, device=get_device()):
            last = snap
        return last

    def busy(self) -> bool:
        return any(j.is_running() for j in self._jobs.values())

    # ---- internals -----------------------------------------------------------------------------
    def _on_main_snapshot(self, snap: Snapshot) -> None:
        if snap.progress >= 1.0:
            self.result = snap.result
        self.show_snapshot(snap)

    def _on_progress(self, progress: float, message: str) -> None:
        self.progress.setValue(int(1000 * progress) if math.isfinite(progress) else 0)
        self.message.setText(message)

    def _on_form_changed(self) -> None:
        try:
            self.form.config(self._base_config)
        except ValueError as err:
            self.show_error(str(err))
            return
        self.show_error("")
        if self.live:
            self._live_timer.start()

    def _update_buttons(self) -> None:
        running = self.busy()
        self.stop_button.setEnabled(running)

    def ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder")
        if folder:
            try:
                out = self.export(folder)
            except OSError as err:  # a read-only or vanished folder: say so in the panel, keep running
                self.show_error(f"export to {folder}: {err}")
                return
            self.message.setText(f"exported to {out}")
