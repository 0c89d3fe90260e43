"""The panel base class: controls on the left (generated from the engine's Config), views on the right.

A subclass declares its views and draws results; everything else is here, once: the form (with a tooltip on
every control), Run / Stop / Export, progress, errors shown in the panel and the log, the headline banner above
the views and the "showing" line under it, side jobs whose results are exported with the main one, File → Open
plumbing, tabs, play/scrub timers. It holds no science: every number it shows comes from the engine's result.

A minimal panel::

    class MyPanel(Panel):
        panel_id = "my_panel"              # its id in panels.PANELS (title, arXiv id come from there)
        engine_name = "my_engine"          # engines.<name>: the only engine module it imports
        form_groups = ("Model", "Method")  # the Config groups the form shows, in this order (None: all of them)
        live = False                       # True: re-run (debounced) whenever a control changes
        file_filter = ""                   # "Traces (*.csv)": File > Open calls open_file(path)

        def build_views(self):             # a QWidget, or [(tab name, QWidget), ...] for tabs (self.tabs)
            self.curve = pg.PlotWidget().plot()
            return self.curve.getViewWidget()

        def show_snapshot(self, snap):     # each snapshot of the main job; snap.result is also self.shown
            self.curve.setData(snap.result.x, snap.result.y)

The headline banner shows ``headline_html(result)`` of the final result (default: the result's ``headline()``
figures beside the paper's, from ``Result.PAPER``); ``set_headline`` overrides it.

Helpers: ``config()`` / ``config_or_error()`` / ``set_config(cfg)``, ``run_job()`` (the main job),
``run_side(slot, config, on_snapshot)`` (a side job; its final result is ``self.results[slot]`` and Export writes it
to ``<folder>/<slot>/``), ``add_controls(title, *rows)``, ``set_headline(html)``, ``set_source(text)``,
``show_error(text)``, :class:`Player` for animations, ``self.result`` (the main job's final result) and
``self.shown`` (the result on screen, partial or final).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from collections.abc import Callable, Iterator
from html import escape
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
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
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

    ``groups`` names the groups shown, in that order (``None``: every group, in the order the fields declare them);
    fields of other groups keep the base config's value. Every control's tooltip is the field's doc, unit and
    allowed range. ``changed`` fires on edits.
    """

    changed = Signal()

    def __init__(self, config_cls, groups: tuple[str, ...] | None = None, parent=None):
        super().__init__(parent)
        self.config_cls = config_cls
        declared = list(dict.fromkeys(r["group"] or "Settings" for r in config_cls.describe() if r["gui"]))
        names = declared if groups is None else list(groups)
        unknown = [g for g in names if g not in declared]
        if unknown:
            raise ValueError(f"form_groups: {', '.join(unknown)} not among the Config's groups ({', '.join(declared)})")
        self._rows = [r for r in config_cls.describe() if r["gui"] and (r["group"] or "Settings") in names]
        self._editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
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
        elif row["type"] == "int" and not row["optional"] and all(v is None or abs(v) <= 2**31 - 1 for v in (row["lo"], row["hi"])):
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


class Player(QWidget):
    """Play / pause and a slider over the frames of an animation; ``frame_changed(int)`` on every move.

    ``set_count(n)`` sets the number of frames (the slider's range), ``set_frame(i)`` moves without a timer tick;
    while playing, each tick advances by ``step`` frames (fractional steps accumulate), wrapping at the end.
    """

    frame_changed = Signal(int)

    def __init__(self, what: str, interval_ms: int = 80, parent=None):
        super().__init__(parent)
        self.step = 1.0
        self._pos = 0.0
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.button = QPushButton("▶ Play")
        self.button.setCheckable(True)
        self.button.setToolTip(f"Animate {what}; pause to inspect a frame")
        self.button.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip(f"Scrub through {what}")
        self.slider.valueChanged.connect(self._on_slider)
        lay.addWidget(self.button)
        lay.addWidget(self.slider, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    @property
    def frame(self) -> int:
        return self.slider.value()

    @property
    def count(self) -> int:
        return self.slider.maximum() + 1

    def set_count(self, n: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.blockSignals(False)

    def set_frame(self, i: int, emit: bool = True) -> None:
        """Move to frame ``i`` (clamped); ``emit=False`` moves the slider without ``frame_changed``."""
        i = int(min(max(i, 0), self.slider.maximum()))
        self.slider.blockSignals(not emit)
        self.slider.setValue(i)
        self.slider.blockSignals(False)
        self._pos = float(i)

    def _on_slider(self, i: int) -> None:
        self._pos = float(i)
        self.frame_changed.emit(i)

    def _on_play(self, on: bool) -> None:
        self.button.setText("❚❚ Pause" if on else "▶ Play")
        self.timer.start() if on else self.timer.stop()

    def _tick(self) -> None:
        if self.slider.maximum() <= 0:
            return
        pos = self._pos + self.step
        pos = 0.0 if pos > self.slider.maximum() else pos
        self.slider.setValue(int(pos))  # emits frame_changed (and resets _pos to the whole frame)
        self._pos = pos


class Panel(QWidget):
    """One paper's instrument: controls bound to one engine, views fed by its snapshots (see the module docstring)."""

    panel_id: str = ""
    engine_name: str = ""
    live: bool = False
    form_groups: tuple[str, ...] | None = None
    file_filter: str = ""
    sweep_fields: tuple[str, ...] = ()  # Config fields offered by the Sweep… action (none: no Sweep button)

    def __init__(self, runner: JobRunner | None = None, parent=None):
        super().__init__(parent)
        self.engine = engines.load(self.engine_name)
        self.runner = runner or default_runner()
        self.title = self._registered_title()
        self.results: dict[str, object] = {}  # slot -> the final result of that slot's last finished job
        self.shown = None  # the main job's result on screen (partial or final)
        self.source = ""  # what the views show, in one line
        self.source_file: Path | None = None  # the user's file the views show, if any
        self._jobs: dict[str, Job] = {}
        self._headline_set = False
        self._base_config = self.default_config()

        self.form = ConfigForm(self.engine.Config, self.form_groups)
        self.form.set_config(self._base_config)
        self.form.changed.connect(self._on_form_changed)

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the engine with these settings (off the GUI thread)")
        self.run_button.clicked.connect(lambda: self.run_job())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running jobs; the last partial result stays on screen")
        self.stop_button.clicked.connect(self.stop_jobs)
        self.stop_button.setEnabled(False)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the views as PNG and every job's result as JSON, CSV and NPZ into a folder")
        self.export_button.clicked.connect(self.ask_export)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.setToolTip("Progress of the running job")
        self.message = QLabel("")
        self.message.setWordWrap(True)
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
        self.sweep_dialog = None
        if self.sweep_fields:
            self.sweep_button = QPushButton("Sweep…")
            self.sweep_button.setToolTip("Run this engine over several values of one setting (and seeds) on a process pool or "
                                         "Ray; results are plotted as runs finish, stoppable like any job, and exported")
            self.sweep_button.clicked.connect(self.open_sweep)
            self._controls_layout.addWidget(self.sweep_button)
        self._controls_layout.addWidget(self.progress)
        self._controls_layout.addWidget(self.message)
        self._controls_layout.addWidget(self.error)
        self._controls_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(380)

        # the headline banner and the "showing" line sit above the views, always in sight
        self.headline = QLabel("")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setStyleSheet("font-size: 10pt; padding: 2px;")
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source_label = QLabel("")
        self.source_label.setTextFormat(Qt.TextFormat.PlainText)
        self.source_label.setWordWrap(True)
        self.source_label.setStyleSheet("color: #555; padding: 0 2px;")
        self.source_label.setToolTip("What the views show: the engine's default job, your settings, or a file you opened")
        self.tabs: QTabWidget | None = None
        built = self.build_views()
        if isinstance(built, (list, tuple)):
            self.tabs = QTabWidget()
            for name, widget in built:
                self.tabs.addTab(widget, name)
            self.tabs.currentChanged.connect(lambda i: self.on_tab_shown(self.tabs.tabText(i)))
            built = self.tabs
        self.views = QWidget()
        vl = QVBoxLayout(self.views)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.setSpacing(2)
        vl.addWidget(self.headline)
        vl.addWidget(self.source_label)
        vl.addWidget(built, 1)
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
        self.set_source(self.default_source())

    # ---- for subclasses -------------------------------------------------------------------------
    def default_config(self):
        """The panel's default job (the engine's defaults unless a subclass chooses otherwise)."""
        return self.engine.Config()

    def default_source(self) -> str:
        """The "showing" line for the model's own job (a panel that opens files says so)."""
        return "Showing: the engine's default job" + (" · File → Open loads your own file" if self.file_filter else "")

    def build_views(self) -> QWidget | list[tuple[str, QWidget]]:
        raise NotImplementedError

    def show_snapshot(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def headline_html(self, result) -> str:
        """The banner for a final result: its ``verdict()`` if it has one, then ``figures_html``."""
        verdict = getattr(result, "verdict", None)
        said = verdict() if callable(verdict) else ""
        return "<br>".join(line for line in (escape(said, quote=False) if said else "", self.figures_html(result)) if line)

    def figures_html(self, result, others: bool = True) -> str:
        """The headline figures, each beside the paper's number where there is one; with ``others``, the paper's other
        figures on a line of their own."""
        paper = getattr(result, "PAPER", {})
        headline = result.headline()
        parts = []
        for name, fig in headline.items():
            ref = paper.get(name)
            tail = (f" <span style='color:#777'>(paper: {escape(_fmt(ref.value))}{' ' + escape(ref.unit) if ref.unit else ''})</span>"
                    if ref else "")
            parts.append(f"<b>{escape(str(fig), quote=False)}</b>{tail}")
        lines = [" · ".join(parts)]
        rest = [str(f) for k, f in paper.items() if k not in headline] if others else []
        if rest:
            lines.append("<span style='color:#777'>Paper: " + escape(" · ".join(rest), quote=False) + "</span>")
        return "<br>".join(line for line in lines if line)

    def on_tab_shown(self, name: str) -> None:
        """A tab of the views became current (tabbed views only)."""

    def open_file(self, path: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} opens no files")

    def export(self, out_dir: str | Path) -> Path:
        """PNG of the views, the main result's JSON/CSV/NPZ/figures, every side job's in ``<slot>/``, config and source."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.views.grab().save(str(out / "views.png"))
        for slot, result in self.results.items():
            result.save(out if slot == "main" else out / slot)
        (out / "config.json").write_text(json.dumps(jsonable(self.config().to_dict()), indent=2) + "\n")
        (out / "source.json").write_text(json.dumps(self.source_record(out), indent=2) + "\n")
        return out

    def source_record(self, out: Path) -> dict:
        """What the views show, for Export: the line, and the opened file (path, size, SHA-256; a copy under 64 MiB)."""
        record = {"panel": self.panel_id, "showing": self.source}
        f = self.source_file
        if f is not None and f.is_file():
            digest = hashlib.sha256()
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            record["file"] = {"path": str(f.resolve()), "bytes": f.stat().st_size, "sha256": digest.hexdigest()}
            if f.stat().st_size < 64 * 2**20:
                shutil.copyfile(f, out / f"opened_{f.name}")
                record["file"]["copy"] = f"opened_{f.name}"
        return record

    # ---- helpers -------------------------------------------------------------------------------
    @property
    def result(self):
        """The main job's final result (None before the first one finished)."""
        return self.results.get("main")

    def add_controls(self, title: str, *rows) -> QGroupBox:
        """A control group under the generated form: each row a widget, or a (label, widget) pair."""
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for row in rows:
            if isinstance(row, tuple):
                label, widget = row
                lab = QLabel(label)
                lab.setToolTip(widget.toolTip())
                form.addRow(lab, widget)
            else:
                form.addRow(row)
        self._controls_layout.insertWidget(self._extra_at, box)
        self._extra_at += 1
        return box

    def config(self):
        return self.form.config(self._base_config)

    def config_or_error(self, config=None):
        """``config``, else the controls' config; None (and the error shown) when a control holds a bad value."""
        if config is not None:
            return config
        try:
            return self.config()
        except ValueError as err:
            self.show_error(str(err))
            return None

    def set_config(self, config) -> None:
        self._base_config = config
        self.form.set_config(config)

    def set_headline(self, html: str) -> None:
        """Replace the banner above the views (otherwise it shows ``headline_html`` of the main result)."""
        self._headline_set = True
        self.headline.setText(html)

    def set_source(self, text: str, file: str | Path | None = None) -> None:
        """The one line under the banner that says what the views show; ``file``: the user's file they show (its full
        path goes in the tooltip, and Export records it: path, size, SHA-256, and a copy when under 64 MiB)."""
        self.source = text
        self.source_file = Path(file) if file else None
        self.source_label.setText(text)
        tip = "What the views show: the engine's default job, your settings, or a file you opened"
        self.source_label.setToolTip(f"{tip}\n{self.source_file}" if self.source_file else tip)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        if text:
            log.error("%s: %s", self.title, text)

    def run_job(self, config=None) -> Job | None:
        """Run the engine's stream on ``config`` (default: the controls) in the main slot."""
        cfg = self.config_or_error(config)
        if cfg is None:
            return None
        return self.start_stream("main", cfg, self._on_main_snapshot)

    def run_side(self, slot: str, config, on_snapshot: Callable[[Snapshot], None]) -> Job | None:
        """A side job (an energy scan, a Monte Carlo): its final result is kept in ``results[slot]`` and exported."""
        cfg = self.config_or_error(config)
        if cfg is None:
            return None
        return self.start_stream(slot, cfg, lambda snap: self._on_side_snapshot(slot, snap, on_snapshot))

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
        job = self.runner.start(f"{self.title}: {slot}", make_stream)
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

    def job(self, slot: str = "main") -> Job | None:
        """The newest job started in ``slot``."""
        return self._jobs.get(slot)

    def run_blocking(self, config=None) -> None:
        """Run the default (or given) job in this thread and draw its final snapshot: screenshots and tests."""
        self._on_main_snapshot(self.final_snapshot(config if config is not None else self.config()))

    def run_side_blocking(self, slot: str, config, on_snapshot: Callable[[Snapshot], None]) -> None:
        """A side job in this thread (screenshots and tests), kept and drawn as ``run_side`` would."""
        self._on_side_snapshot(slot, self.final_snapshot(config), on_snapshot)

    def final_snapshot(self, config) -> Snapshot:
        """Run the engine's stream on ``config`` in this thread and return its last snapshot."""
        last = None
        for snap in self.engine.stream(config, device=get_device()):
            last = snap
        return last

    def busy(self) -> bool:
        return any(j.is_running() for j in self._jobs.values())

    def sweep_config(self, cfg):
        """The settings each run of a sweep starts from (default: the controls); a panel drops side computations here
        that the sweep's table does not use."""
        return cfg

    def open_sweep(self):
        """The Sweep… dialog (non-modal): its job is this panel's ``sweep`` slot, its table exported under ``sweep/``."""
        from panels.sweep import SweepDialog

        if self.sweep_dialog is None:
            self.sweep_dialog = SweepDialog(self, self.sweep_fields)
        self.sweep_dialog.show()
        self.sweep_dialog.raise_()
        return self.sweep_dialog

    def sweep_snapshot(self, snap: Snapshot) -> None:
        """A snapshot of the sweep job: kept as ``results["sweep"]`` when final, drawn in the dialog as it grows."""
        self._on_side_snapshot("sweep", snap, lambda s: s.result is not None and self.sweep_dialog.show_result(s.result))

    # ---- internals -----------------------------------------------------------------------------
    def _registered_title(self) -> str:
        import panels

        try:
            return panels.spec(self.panel_id).title
        except ValueError:  # a panel outside the registry (tests): its engine's name
            return self.panel_id or self.engine_name

    def _on_main_snapshot(self, snap: Snapshot) -> None:
        if snap.result is not None:
            self.shown = snap.result
        final = snap.progress >= 1.0 and snap.result is not None
        if final:
            self.results["main"] = snap.result
        self.show_snapshot(snap)
        if final and not self._headline_set:
            self.headline.setText(self.headline_html(snap.result))

    def _on_side_snapshot(self, slot: str, snap: Snapshot, draw: Callable[[Snapshot], None]) -> None:
        if snap.progress >= 1.0 and snap.result is not None:
            self.results[slot] = snap.result
        draw(snap)

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
        self.stop_button.setEnabled(self.busy())

    def ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder")
        if folder:
            try:
                out = self.export(folder)
            except OSError as err:  # a read-only or vanished folder: say so in the panel, keep running
                self.show_error(f"export to {folder}: {err}")
                return
            self.message.setText(f"exported to {out}")
