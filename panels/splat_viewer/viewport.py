"""The viewport controller: the live GL viewport, its render thread, the camera and its interaction, its timers, its scene.

It owns a :class:`gl_view.Viewport` (the widget that paints frames), a :class:`gl_view.RenderThread` (sorting and
drawing off the GUI thread), the orbit/fly camera (:class:`engines.splatting.OrbitControl`), the overlay and
"camera at rest" timers, and the scene it shows (loaded off the GUI thread). S² in the viewport follows the
engine's rule with the Config's settings (``s2_window``, ``s2_max_angle_deg``, ``s2_max_translation``): the
``config`` callable gives the panel's current Config.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from engines import splatting as sp

from .gl_view import RenderThread, Viewport

MOVING_SCALES = {"full": 1.0, "1/2": 0.5, "1/3": 1 / 3, "1/4": 0.25}  # viewport resolution while the camera moves
DEFAULT_MOVING = "1/4"  # on a software rasteriser; a GPU draws full resolution throughout (see _on_gl_ready)
REST_MS = 200  # the camera counts as stopped this long after the last move: full resolution again
DEFAULT_MAX_RADIUS = 256  # px; a viewer approximation (see the control's tooltip)
FRAME_KEY = "C"  # "frame the scene" (F is fly mode)
log = logging.getLogger("workbench.panels")


def save_rgb(path: Path, rgb: np.ndarray) -> None:
    a = np.ascontiguousarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    QImage(a.data, a.shape[1], a.shape[0], 3 * a.shape[1], QImage.Format.Format_RGB888).copy().save(str(path))


def scene_key(cfg: sp.Config) -> tuple:
    """What identifies the scene a Config names (the viewport reloads when it changes)."""
    return (cfg.scene, cfg.scene_path, cfg.procedural_gaussians, cfg.seed)


class ViewportController(QObject):
    """The live viewport and everything that drives it; ``widget`` is what the panel lays out."""

    error = Signal(str)
    message = Signal(str)
    scene_changed = Signal(object)  # the Scene now shown
    _loaded = Signal(object, object, object)  # Scene or Exception, Config, key (from the loading thread)

    def __init__(self, config: Callable[[], sp.Config], parent=None):
        super().__init__(parent)
        self.config = config
        self.scene: sp.Scene | None = None
        self.key = None
        self._wanted = None  # the key of the newest scene asked for
        self.orbit: sp.OrbitControl | None = None
        self.fly = False
        self.moving = False
        self.interacted = False  # the overlay shows timings only after the user first moves the view
        self.last_frame = None
        self._sorter: sp.ViewSorter | None = None
        self._fov_cam: sp.Camera | None = None
        self.widget = self._build()

        self.worker = RenderThread()
        self.worker.rendered.connect(self._on_frame)
        self.worker.failed.connect(self._on_gl_failed)
        self.worker.ready.connect(self._on_gl_ready)
        self.worker.start()
        app = QApplication.instance()
        if app is not None:  # the render thread never outlives the application
            app.aboutToQuit.connect(self.worker.stop)
        worker = self.worker
        self.widget.destroyed.connect(lambda *_: worker.stop())  # a panel deleted without closing stops its render thread too
        self._loaded.connect(self._on_loaded)
        self._overlay_timer = QTimer(self)
        self._overlay_timer.setInterval(500)
        self._overlay_timer.timeout.connect(self.update_overlay)
        self._overlay_timer.start()
        self._rest_timer = QTimer(self)
        self._rest_timer.setSingleShot(True)
        self._rest_timer.setInterval(REST_MS)
        self._rest_timer.timeout.connect(self._at_rest)
        self.gl.pressed.connect(lambda *_: self.mark_interaction())
        self.gl.dragged.connect(self._on_drag)
        self.gl.wheeled.connect(self._on_wheel)
        self.gl.double_clicked.connect(self._on_double_click)
        self.gl.key_pressed.connect(self._on_key)
        self.gl.resized.connect(self.update_view)

    def _build(self) -> QWidget:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.gl = Viewport()
        self.gl.setMinimumSize(320, 220)
        self.gl.setToolTip("Live GL viewport: drag to orbit (or look, in fly mode), wheel to zoom, double-click to re-centre on the "
                           f"splat under the cursor, F toggles fly mode (WASD to move), {FRAME_KEY} frames the scene")
        lv.addWidget(QLabel("<b>Live viewport</b> (OpenGL, sorted splats blended back to front)"))
        lv.addWidget(self.gl, 1)
        row = QHBoxLayout()
        self.mode_box = QComboBox()
        self.mode_box.addItems(["rgb", "depth", "alpha"])
        self.mode_box.setToolTip("What the viewport draws: colour, depth (near red → far blue) or accumulated alpha")
        self.mode_box.currentIndexChanged.connect(lambda _: self.update_view())
        self.s2_box = QCheckBox("S² sort sharing")
        self.s2_box.setChecked(True)
        self.s2_box.setToolTip("Reuse one back-to-front sort over several frames while the view moves little (S²), by the engine's "
                               "rule: the S² group's s2 window, s2 max angle and s2 max translation")
        self.s2_box.toggled.connect(lambda _: self.update_view())
        self.fly_box = QCheckBox("fly (WASD)")
        self.fly_box.setToolTip("Fly mode (key F): drag turns the view about the eye, W/A/S/D move it (click the viewport first)")
        self.fly_box.toggled.connect(self._set_fly)
        self.frame_button = QPushButton(f"Frame the scene ({FRAME_KEY})")
        self.frame_button.setToolTip("Back to a view that frames the scene: its first camera (cameras.json), or, without cameras, "
                                     "the central 80 % of the splats (10th–90th percentile per axis) seen from outside; "
                                     f"key {FRAME_KEY} in the viewport")
        self.frame_button.clicked.connect(self.frame_scene)
        for w in (QLabel("mode"), self.mode_box, self.s2_box, self.fly_box, self.frame_button):
            row.addWidget(w)
        row.addStretch(1)
        lv.addLayout(row)
        row3 = QHBoxLayout()
        self.moving_box = QComboBox()
        self.moving_box.addItems(list(MOVING_SCALES))
        self.moving_box.setCurrentText(DEFAULT_MOVING)
        self.moving_box.setToolTip("Resolution the viewport draws at while the camera moves (upscaled); full resolution "
                                   f"{REST_MS} ms after it stops. Software GL (Mesa's llvmpipe) pays for every pixel it fills, and ¼ "
                                   "fills 16× fewer; with a GPU the viewport starts at full")
        self.radius_box = QSpinBox()
        self.radius_box.setRange(0, 4096)
        self.radius_box.setSingleStep(16)
        self.radius_box.setValue(DEFAULT_MAX_RADIUS)
        self.radius_box.setSuffix(" px")
        self.radius_box.setSpecialValueText("GL limit")
        self.radius_box.setToolTip("Viewer approximation: splats whose screen-space half-axis exceeds this many pixels are "
                                   "shrunk to it (as real-time viewers clamp splat size), which saves fill on scenes with "
                                   "huge floaters. The torch engine's frames are always exact. 0 = no clamp beyond the GL limit: half "
                                   "the largest point sprite the driver draws (127 px on Mesa's llvmpipe)")
        self.radius_box.valueChanged.connect(lambda _: self.update_view())
        for w in (QLabel("while moving"), self.moving_box, QLabel("max splat radius"), self.radius_box):
            row3.addWidget(w)
        row3.addStretch(1)
        lv.addLayout(row3)
        return left

    # ---- scene and camera --------------------------------------------------------------------------------
    def set_scene(self, scene: sp.Scene, cfg: sp.Config) -> None:
        """Show ``scene`` (the Config gives its SH degree and near plane) from its framing camera."""
        self.scene, self.key = scene, scene_key(cfg)
        self._wanted = self.key
        self._sorter = sp.ViewSorter(scene, cfg.sh_degree, cfg.near)
        self.worker.sorter = self._sorter
        self._frame_camera(cfg)
        self.scene_changed.emit(scene)
        self.update_view()

    def load(self, cfg: sp.Config) -> None:
        """Load the Config's scene off the GUI thread (nothing to do when it is the one shown or already coming)."""
        key = scene_key(cfg)
        if key in (self.key, self._wanted):
            return
        self._wanted = key
        self.message.emit(f"loading the {cfg.scene} scene…")

        def work():
            try:
                self._loaded.emit(sp.load_config_scene(cfg), cfg, key)
            except Exception as err:  # reported in the panel, never raised into Qt
                self._loaded.emit(err, cfg, key)

        threading.Thread(target=work, name="splat-scene", daemon=True).start()

    def wait_for_scene(self, cfg: sp.Config, timeout_s: float = 120.0) -> bool:
        """Process events until the Config's scene is shown (screenshots, tests); False on a timeout or a failed load."""
        import time

        self.load(cfg)
        end = time.monotonic() + timeout_s
        while self.key != scene_key(cfg) and self._wanted == scene_key(cfg) and time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)
        return self.key == scene_key(cfg)

    def _on_loaded(self, scene, cfg, key) -> None:
        if key != self._wanted:
            return  # a scene asked for before the newest one
        if isinstance(scene, Exception):
            self._wanted = self.key
            self.error.emit(f"{type(scene).__name__}: {scene}")
            return
        self.set_scene(scene, cfg)
        self.message.emit(f"{scene.name}: {scene.n:,} splats")

    def _frame_camera(self, cfg: sp.Config) -> None:
        """The engine's framing camera for this scene at the viewport's size; the orbit turns about the point it looks at."""
        w, h = max(self.gl.width(), 16), max(self.gl.height(), 16)
        cam, target = sp.framing_camera(self.scene, w, h, cfg.fov_deg)
        self.orbit = sp.OrbitControl.from_camera(cam, target, self.scene.up)
        self._fov_cam = cam

    def frame_scene(self) -> None:
        """Back to the camera that frames the scene."""
        if self.scene is not None:
            self._frame_camera(self.config())
            self.update_view()

    def current_camera(self) -> sp.Camera:
        """The viewport's pose with intrinsics for its current size (the field of view of the path's camera)."""
        w, h = max(self.gl.width(), 16), max(self.gl.height(), 16)
        ref = self._fov_cam
        fx = ref.fx * w / ref.width
        return sp.Camera(self.orbit.viewmat(), fx, fx * ref.fy / ref.fx, w / 2, h / 2, int(w), int(h))

    def frame_params(self, s2: bool | None = None) -> dict:
        """What the render thread needs besides the camera (it applies the SH degree itself: the sorter is its own)."""
        cfg = self.config()
        on = self.s2_box.isChecked() if s2 is None else s2
        return dict(rule=sp.ResortRule.from_config(cfg) if on else None, sh_degree=cfg.sh_degree, splat_scale=cfg.splat_scale,
                    mode=self.mode_box.currentText(), max_radius=float(self.radius_box.value()))

    def update_view(self) -> None:
        """Ask the render thread for the current view (at the reduced resolution while the camera moves)."""
        if self.orbit is None:
            return
        scale = MOVING_SCALES.get(self.moving_box.currentText(), 1.0) if self.moving else 1.0
        self.worker.request(self.current_camera(), self.frame_params(), scale)

    def render_now(self):
        """Draw the current view at full resolution, wait for it and show it (exports, screenshots, tests)."""
        frame = self.worker.render_now(self.current_camera(), self.frame_params())
        self._on_frame(frame)
        return frame

    def _on_frame(self, frame) -> None:
        if frame.sorter is not self._sorter:
            return  # a frame of the previous scene
        self.gl.message = ""
        if not self.gl.set_frame(frame):
            return  # an older request's frame, finished after a newer one was shown
        self.last_frame = frame
        if not self.interacted:
            self.update_overlay()  # the splat count of this frame, with it

    def _on_gl_ready(self, renderer: str, software: bool) -> None:
        """A GPU draws every frame at full resolution; a software rasteriser keeps the reduced preview while moving."""
        if not software and self.moving_box.currentText() == DEFAULT_MOVING:
            self.moving_box.setCurrentText("full")
        self.gl.setToolTip(f"{self.gl.toolTip()}\nOpenGL: {renderer}")
        log.info("splat viewer: OpenGL renderer %s%s", renderer, " (software: reduced resolution while moving)" if software else "")

    def _on_gl_failed(self, message: str) -> None:
        self.gl.message = message
        self.gl.update()
        self.error.emit(message)

    def update_overlay(self) -> None:
        """Splat count and the S² setting; timings only once the user has moved the view (so screenshots are stable)."""
        f = self.last_frame
        s = f.sort if f is not None else None
        try:
            window = self.config().s2_window
        except ValueError:
            window = None
        s2 = f"S² on (window {window})" if self.s2_box.isChecked() else "S² off"
        n = len(s.order) if s is not None else 0
        if not self.interacted:
            text = f"{n:,} splats  ·  {s2}"
        else:
            fps = self.gl.fps()
            text = f"{fps:.1f} fps" if fps else "idle"
            if s is not None:
                shared = " (S² shared)" if s.reused else ""
                res = "" if f.scale >= 1 else f" at {f.image.shape[1]}×{f.image.shape[0]}"
                text += f"  ·  sort {s.sort_ms:.1f} ms{shared}  ·  frame {f.render_ms:.0f} ms{res}  ·  {n:,} splats"
        if self.fly:
            text += "  ·  fly"
        self.gl.set_overlay(text)

    # ---- interaction -----------------------------------------------------------------------------------
    def _set_fly(self, on: bool) -> None:
        self.fly = on
        self.update_overlay()

    def mark_interaction(self) -> None:
        """The user moved the view: from now on the overlay shows fps and timings."""
        self.interacted = True

    def camera_moved(self) -> None:
        """Draw at the reduced "while moving" resolution until the camera has been still for REST_MS, then at full."""
        self.mark_interaction()
        self.moving = True
        self._rest_timer.start()
        self.update_view()

    def _at_rest(self) -> None:
        self.moving = False
        self.update_view()

    def _on_drag(self, dx: float, dy: float) -> None:
        if self.orbit is None:
            return
        if self.fly:
            self.orbit.look(0.25 * dx, 0.25 * dy)
        else:
            self.orbit.orbit(-0.4 * dx, 0.3 * dy)
        self.camera_moved()

    def _on_wheel(self, steps: float) -> None:
        if self.orbit is None:
            return
        self.orbit.zoom(0.9**steps)
        self.camera_moved()

    def _on_double_click(self, x: float, y: float) -> None:
        if self.scene is None:
            return
        p = sp.pick_depth(self.scene, self.current_camera(), x, y)
        if p is not None:
            self.mark_interaction()
            self.orbit.recentre(p)
            self.update_view()

    def _on_key(self, name: str) -> None:
        if name == "F":
            self.fly_box.setChecked(not self.fly_box.isChecked())
            return
        if name == FRAME_KEY:
            self.frame_scene()
            return
        if not self.fly or self.orbit is None:
            return
        step = 0.05 * max(self.orbit.distance, 0.1)
        moves = {"W": (step, 0), "S": (-step, 0), "A": (0, -step), "D": (0, step)}
        if name in moves:
            self.mark_interaction()
            self.orbit.fly(*moves[name])
            self.camera_moved()

    # ---- exports -----------------------------------------------------------------------------------------
    def export_frame(self, path: str | Path) -> Path:
        """The current view drawn at full resolution, as a PNG."""
        p = Path(path)
        save_rgb(p, self.render_now().rgb())
        return p

    def export_sequence(self, folder: str | Path) -> list[Path]:
        """The configured camera path drawn by the viewport, one PNG per frame (sorted exactly for each)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        view = self.current_camera()
        cfg = self.config().replace(width=view.width, height=view.height)
        written = []
        for i, cam in enumerate(sp.path_cameras(cfg, self.scene)):
            p = out / f"frame_{i:04d}.png"
            save_rgb(p, self.worker.render_now(cam, self.frame_params(s2=False)).rgb())
            written.append(p)
        return written

    def stop(self) -> None:
        self.worker.stop()
