"""3DGS viewer panel (arXiv:2506.05682, Lumina): a live GL viewport beside the torch engine's exact vs S²/RC frames.

Left: the live viewport (:class:`viewport.ViewportController`) draws the scene's splats as ellipses back to front
through OpenGL in a render thread (drag to orbit, wheel to zoom, F toggles fly mode with WASD, C frames the
scene, double-click re-centres); its order is shared across frames by the engine's S² rule. Right: the engine's
exact frame against the method's (:class:`engine_view.EngineImageView`); below, per-frame blending work and PSNR
along the camera path. The default job is the garden scene, where S²+RC pays; every number comes from the Result.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QPushButton, QSplitter, QVBoxLayout, QWidget

from engines import splatting as sp
from panels.base import Panel

from .engine_view import EngineImageView, FramePlots
from .viewport import ViewportController

log = logging.getLogger("workbench.panels")
SCENE_SUFFIXES = (".ply", ".splat")


class SplatViewerPanel(Panel):
    panel_id = "splat_viewer"
    engine_name = "splatting"
    form_groups = ("Scene", "Camera", "Method", "RC", "S²", "Renderer")
    file_filter = "Gaussian splats (*.ply *.splat)"

    # ---- views -----------------------------------------------------------------------------------------
    def build_views(self) -> QWidget:
        self.viewport = ViewportController(self.safe_config, self)
        self.viewport.error.connect(self.show_error)
        self.viewport.message.connect(self.message.setText)
        self.form.changed.connect(self.viewport.update_view)
        self.engine_view = EngineImageView()
        self.engine_view.render_requested.connect(self.render_current_view)
        self.plots = FramePlots()

        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(0, 0, 0, 0)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.viewport.widget)
        top.addWidget(self.engine_view)
        top.setSizes([520, 430])
        outer.addWidget(top, 3)
        outer.addWidget(self.plots, 2)

        frame_png = QPushButton("Frame PNG…")
        frame_png.setToolTip("Save the viewport's current frame as a PNG")
        frame_png.clicked.connect(self._ask_export_frame)
        sequence = QPushButton("Path sequence…")
        sequence.setToolTip("Render the configured camera path in the viewport and save one PNG per frame into a folder")
        sequence.clicked.connect(self._ask_export_sequence)
        self.add_controls("Viewport export", frame_png, sequence)
        self.setAcceptDrops(True)
        self.viewport.load(self._base_config)  # off the GUI thread: the window stays responsive while the garden loads
        return root

    def safe_config(self) -> sp.Config:
        """The controls' Config, or the last good one while a control holds a bad value (the form shows the error)."""
        try:
            return self.config()
        except ValueError:
            return self._base_config

    # ---- engine results ----------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        r = snap.result
        if r is None or r.frames_done == 0:
            return
        self.plots.show_result(r)
        self.engine_view.show_result(r)
        if snap.progress >= 1.0:  # wall-clock figures vary run to run: the tooltip and the log, never the pixels
            d = r.details()
            if r.scene_file:
                camera = f"its first camera from {Path(r.cameras_file).name}" if r.cameras_file else "a camera framing its splats"
                self.set_source(f"Showing: {Path(r.scene_file).name} ({r.gaussians:,} splats; {camera}) · "
                                "choose scene = garden or procedural and Run to go back")
            tip = (f"Wall clock on this machine: {d['speedup']:.2f}× ({d['method_ms_mean']:.0f} vs {d['exact_ms_mean']:.0f} ms/frame, "
                   "method vs exact); it varies from run to run, so the banner shows the deterministic work ratio")
            self.headline.setToolTip(tip)
            log.info("splat_viewer: %s", r.verdict() + f"; wall clock {d['speedup']:.2f}×")

    def headline_html(self, r) -> str:
        """The verdict (does the method pay on this path?), the headline figures, the paper's figures."""
        color = sp.COLORS["target"] if r.meets_target else "#b00020"
        paper = " · ".join(escape(str(f)) for f in r.PAPER.values())
        d = r.details()
        scene = f"{escape(d['scene'])}, {d['gaussians']:,} splats, {d['width']}×{d['height']}, {d['frames']} frames"
        return (f"<b style='color:{color}'>{escape(r.verdict())}</b> <span style='color:#555'>({scene})</span><br>"
                f"{self.figures_html(r, others=False)}<br><span style='color:#777'>Paper (Lumina): {paper}; other measures than work and "
                "PSNR against the exact renderer</span>")

    def render_current_view(self) -> None:
        """Exact and method frames of the viewport's pose (at most 480 px wide) as a side job."""
        cam = self.viewport.current_camera()
        w = min(cam.width, 480)
        cam = cam.resized(w, int(round(cam.height * w / cam.width)))
        base = self.config_or_error()
        if base is None:
            return
        try:
            cfg = base.replace(path="pose", camera_pose=sp.format_pose(cam), frames=1, width=cam.width, height=cam.height)
        except ValueError as err:
            self.show_error(str(err))
            return
        self.run_side("view", cfg, self._on_view_snapshot)

    def _on_view_snapshot(self, snap) -> None:
        if snap.result is not None and snap.result.frames_done:
            self.engine_view.show_result(snap.result)

    def run_job(self, config=None):
        cfg = config if config is not None else self.safe_config()
        self.viewport.load(cfg)
        if cfg.scene != "file":
            self.set_source(self.default_source())
        return super().run_job(config)

    def run_blocking(self, config=None) -> None:
        cfg = config if config is not None else self.config()
        super().run_blocking(cfg)
        app, size = QApplication.instance(), None
        for _ in range(20):  # the results' text re-lays the panel out: let the viewport take its final size first
            if self.viewport.gl.size() == size:
                break
            size = self.viewport.gl.size()
            app.processEvents()
        if self.viewport.wait_for_scene(cfg) and self.viewport.worker.error is None:
            self.viewport.render_now()  # the viewport's frame too, before a screenshot is taken

    # ---- files and export ---------------------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        cfg = self.safe_config().replace(scene="file", scene_path=str(path), path="orbit")
        self.set_config(cfg)
        self.set_source(f"Showing: {Path(path).name} (File → Open) · choose scene = garden or procedural to go back")
        self.run_job(cfg)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if any(u.toLocalFile().lower().endswith(SCENE_SUFFIXES) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt API)
        for u in event.mimeData().urls():
            if u.toLocalFile().lower().endswith(SCENE_SUFFIXES):
                self.open_file(u.toLocalFile())
                break

    def export(self, out_dir):
        out = super().export(out_dir)
        if self.viewport.worker.error is None:  # without OpenGL there is no viewport image (the panel says why)
            self.viewport.export_frame(out / "viewport.png")
        return out

    def _ask_export_frame(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save frame", "frame.png", "PNG (*.png)")
        if path:
            try:
                self.message.setText(f"saved {self.viewport.export_frame(path)}")
            except (RuntimeError, OSError) as err:
                self.show_error(f"frame not saved: {err}")

    def _ask_export_sequence(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the path's frames")
        if folder:
            try:
                files = self.viewport.export_sequence(folder)
            except (RuntimeError, OSError) as err:
                self.show_error(f"sequence not saved: {err}")
                return
            self.message.setText(f"saved {len(files)} frames to {folder}")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.viewport.stop()
        super().closeEvent(event)
