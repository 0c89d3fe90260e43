"""The live viewport: splats drawn through OpenGL (vispy.gloo) in a render thread and shown in a plain Qt widget.

Every splat is projected in the vertex shader with the exact rasteriser's EWA covariance,
Σ' = J W Σ Wᵀ Jᵀ + 0.3 I (J with the 1.3× field-of-view clamp), and spans the ellipse out to r = √(2 ln(255 o))
standard deviations, where α reaches 1/255; the fragment shader evaluates α = min(0.99, o e^{-q/2}) and discards
α < 1/255. Splats arrive sorted back to front (S² shares one sort over several frames, see
:class:`engines.splatting.ViewSorter`) and are blended with premultiplied "over", which equals the
rasteriser's front-to-back compositing.

At rest each splat is a quad along its ellipse's eigen-axes (two triangles, the tightest cover). While the
camera moves the frame is drawn at a fraction of the resolution with one point sprite per splat (one primitive,
the ellipse from its conic) and scaled up: software GL (Mesa's llvmpipe) pays per primitive and per pixel
filled, and both drop. Points are clipped by their centre, so a splat whose centre is off screen is missing
from that preview; the rest frame has them all.

Why a render thread: a GL draw holds the thread that issues it until the frame is rasterised, and on llvmpipe a
648×420 garden frame takes hundreds of milliseconds. :class:`RenderThread` owns its own ``QOpenGLContext`` on a
``QOffscreenSurface``, draws into a framebuffer object, reads the pixels back (1 MB at 648×420; well under a
millisecond on a GPU) and hands the image to :class:`Viewport`, which paints it with QPainter. The GUI thread
makes no GL call, so the window keeps responding whatever a frame costs; the rest frame is drawn in chunks of
the sorted order and given up as soon as the camera moves again.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QOffscreenSurface, QOpenGLContext, QPainter, QSurfaceFormat
from PySide6.QtWidgets import QWidget
from vispy import gloo
from vispy.gloo import gl
from vispy.gloo.context import FakeCanvas, set_current_canvas

from engines.splatting import Camera, SortResult, ViewSorter

log = logging.getLogger("workbench.panels")

# the projection both programs share: centre in pixels, the 2D covariance (a b; b c) incl. the 0.3 low-pass, depth
PROJECT = """
attribute vec3 a_center;
attribute vec3 a_cov_a;   // Sigma xx xy xz
attribute vec3 a_cov_b;   // Sigma yy yz zz
attribute float a_opacity;
attribute vec3 a_rgb;
uniform vec3 u_r0; uniform vec3 u_r1; uniform vec3 u_r2; uniform vec3 u_t;  // world to camera (rows of R, t)
uniform vec2 u_focal; uniform vec2 u_principal; uniform vec2 u_size; uniform vec2 u_lim;
uniform float u_near; uniform float u_scale2; uniform float u_max_ext;
uniform float u_mode; uniform vec2 u_depth;
varying vec4 v_color;

bool project(out vec2 mean, out vec3 cov, out float ext, out float r) {
    vec3 p = vec3(dot(u_r0, a_center), dot(u_r1, a_center), dot(u_r2, a_center)) + u_t;
    if (p.z <= u_near || a_opacity * 255.0 <= 1.0) return false;
    float tx = clamp(p.x / p.z, -u_lim.x, u_lim.x) * p.z;
    float ty = clamp(p.y / p.z, -u_lim.y, u_lim.y) * p.z;
    // T = J W: rows (fx/z) W0 - (fx tx / z^2) W2 and (fy/z) W1 - (fy ty / z^2) W2
    vec3 T0 = (u_focal.x / p.z) * u_r0 - (u_focal.x * tx / (p.z * p.z)) * u_r2;
    vec3 T1 = (u_focal.y / p.z) * u_r1 - (u_focal.y * ty / (p.z * p.z)) * u_r2;
    mat3 S = u_scale2 * mat3(a_cov_a.x, a_cov_a.y, a_cov_a.z, a_cov_a.y, a_cov_b.x, a_cov_b.y, a_cov_a.z, a_cov_b.y, a_cov_b.z);
    vec3 s1 = S * T1;
    cov = vec3(dot(T0, S * T0) + 0.3, dot(T0, s1), dot(T1, s1) + 0.3);
    float mid = 0.5 * (cov.x + cov.z);
    float l1 = mid + sqrt(max(mid * mid - (cov.x * cov.z - cov.y * cov.y), 0.0));
    r = sqrt(2.0 * log(max(255.0 * a_opacity, 1.0)));
    ext = r * sqrt(l1);
    if (u_max_ext > 0.0 && ext > u_max_ext) {  // the viewer's radius clamp: the ellipse keeps its shape
        cov *= (u_max_ext / ext) * (u_max_ext / ext);
        ext = u_max_ext;
    }
    mean = u_focal * p.xy / p.z + u_principal;
    if (mean.x + ext < 0.0 || mean.x - ext > u_size.x || mean.y + ext < 0.0 || mean.y - ext > u_size.y) return false;
    if (u_mode > 1.5) {
        v_color = vec4(1.0, 1.0, 1.0, a_opacity);
    } else if (u_mode > 0.5) {  // depth: near red, far blue
        float sd = clamp((p.z - u_depth.x) / max(u_depth.y - u_depth.x, 1e-6), 0.0, 1.0);
        v_color = vec4(1.0 - sd, 0.35 + 0.4 * (1.0 - abs(2.0 * sd - 1.0)), sd, a_opacity);
    } else {
        v_color = vec4(a_rgb, a_opacity);
    }
    return true;
}

vec4 clip_position(vec2 pix) { return vec4(2.0 * pix.x / u_size.x - 1.0, 1.0 - 2.0 * pix.y / u_size.y, 0.0, 1.0); }
"""

QUAD_VERT = PROJECT + """
attribute vec2 a_corner;   // (+-1, +-1)
varying vec2 v_q;          // offset from the centre in standard deviations along the ellipse's axes
void main() {
    vec2 mean; vec3 cov; float ext; float r;
    if (!project(mean, cov, ext, r)) { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); v_q = vec2(0.0); return; }
    float mid = 0.5 * (cov.x + cov.z);
    float d = sqrt(max(mid * mid - (cov.x * cov.z - cov.y * cov.y), 0.0));
    float l1 = mid + d, l2 = max(mid - d, 1e-6);
    vec2 e = vec2(cov.y, l1 - cov.x);
    e = length(e) > 1e-9 ? normalize(e) : (cov.x >= cov.z ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
    vec2 pix = mean + a_corner.x * r * sqrt(l1) * e + a_corner.y * r * sqrt(l2) * vec2(-e.y, e.x);
    gl_Position = clip_position(pix);
    v_q = a_corner * r;
}
"""

QUAD_FRAG = """
varying vec4 v_color;
varying vec2 v_q;
void main() {
    float alpha = min(0.99, v_color.a * exp(-0.5 * dot(v_q, v_q)));
    if (alpha < 1.0 / 255.0) discard;
    gl_FragColor = vec4(v_color.rgb * alpha, alpha);
}
"""

POINT_VERT = PROJECT + """
uniform float u_res;       // the target's resolution as a fraction of u_size
varying vec3 v_conic;      // inverse 2D covariance (xx, xy, yy) in full-resolution pixels
varying float v_half;      // half the sprite's side in full-resolution pixels
void main() {
    vec2 mean; vec3 cov; float ext; float r;
    if (!project(mean, cov, ext, r)) { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); gl_PointSize = 1.0; return; }
    float det = max(cov.x * cov.z - cov.y * cov.y, 1e-12);
    v_conic = vec3(cov.z, -cov.y, cov.x) / det;
    float size = max(2.0 * ext * u_res, 1.0);
    gl_PointSize = size;
    v_half = 0.5 * size / u_res;
    gl_Position = clip_position(mean);
}
"""

POINT_FRAG = """
varying vec4 v_color;
varying vec3 v_conic;
varying float v_half;
void main() {
    vec2 d = (gl_PointCoord - 0.5) * 2.0 * v_half;  // offset from the centre in full-resolution pixels (y down)
    float q = v_conic.x * d.x * d.x + 2.0 * v_conic.y * d.x * d.y + v_conic.z * d.y * d.y;
    float alpha = min(0.99, v_color.a * exp(-0.5 * q));
    if (alpha < 1.0 / 255.0) discard;
    gl_FragColor = vec4(v_color.rgb * alpha, alpha);
}
"""

MODES = {"rgb": 0.0, "depth": 1.0, "alpha": 2.0}
GL_ALIASED_POINT_SIZE_RANGE = 0x846D
_STATIC = [("a_center", np.float32, 3), ("a_cov_a", np.float32, 3), ("a_cov_b", np.float32, 3), ("a_opacity", np.float32, 1)]
_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)
_QUAD = np.array([0, 1, 2, 0, 2, 3], np.uint32)
CHUNK = 8192  # splats per draw call; a flush after each overlaps set-up and rasterisation, and lets a move cancel a rest frame

_gl_lock = threading.Lock()  # gloo keeps one "current canvas" per process: render threads take turns
_live: weakref.WeakSet = weakref.WeakSet()  # render threads not yet stopped


@atexit.register
def _stop_render_threads() -> None:
    """At interpreter exit, before Qt's objects go: a daemon thread still drawing would outlive its GL context."""
    for worker in list(_live):
        worker.stop()


def is_software(renderer: str) -> bool:
    """Whether a GL_RENDERER string names a CPU rasteriser (Mesa's llvmpipe or softpipe, SwiftShader, WARP)."""
    return any(k in renderer.lower() for k in ("llvmpipe", "softpipe", "swiftshader", "software", "swrast", "warp"))


@dataclass
class RenderedFrame:
    """One image of the viewport and how it was made."""

    image: np.ndarray  # (h, w, 4) uint8, premultiplied over black, top row first
    scale: float  # resolution as a fraction of cam's
    sort: SortResult
    render_ms: float
    sorter: ViewSorter
    seq: int = 0  # the request's number: a frame of an older request never replaces a newer one on screen

    def rgb(self) -> np.ndarray:
        """The image as RGB floats in [0, 1] (over black)."""
        return self.image[..., :3].astype(np.float32) / 255.0


class SplatRenderer:
    """The GL objects for one scene: per-splat buffers, the quad and point programs, a framebuffer. Render thread only."""

    def __init__(self):
        self.quads = gloo.Program(QUAD_VERT, QUAD_FRAG)
        self.points = gloo.Program(POINT_VERT, POINT_FRAG)
        self.max_point = float(gl.glGetParameter(GL_ALIASED_POINT_SIZE_RANGE)[1])
        self.sorter: ViewSorter | None = None
        self._fbo = None
        self._ibs: list = []
        self._rgb = {self.points: gloo.VertexBuffer(np.zeros((1, 3), np.float32)),
                     self.quads: gloo.VertexBuffer(np.zeros((1, 3), np.float32))}
        for prog, buf in self._rgb.items():
            prog["a_rgb"] = buf
        self._colors = np.zeros((0, 3), np.float32)
        self._stale: set = set()  # programs whose colour buffer is behind self._colors

    def set_scene(self, sorter: ViewSorter) -> None:
        """Upload the scene's static per-splat data: once per point, four times (one per quad corner) for the quads."""
        arr = sorter.arrays
        n = len(arr["center"])
        static = np.empty(n, _STATIC)
        for name in ("center", "cov_a", "cov_b", "opacity"):
            static["a_" + name] = arr[name].reshape(static["a_" + name].shape)
        self.points.bind(gloo.VertexBuffer(static))
        corner = np.empty((n, 4), _STATIC + [("a_corner", np.float32, 2)])
        for name, _, _ in _STATIC:
            corner[name] = static[name][:, None]
        corner["a_corner"] = _CORNERS
        self.quads.bind(gloo.VertexBuffer(corner.ravel()))
        self.sorter = sorter
        self.set_colors(sorter.current_colors)

    def set_colors(self, colors: np.ndarray) -> None:
        """New per-splat colours; each program's buffer is refilled when a frame next draws with it."""
        self._colors = np.ascontiguousarray(colors, np.float32)
        self._stale = {self.points, self.quads}

    def _upload_colors(self, prog) -> None:
        if prog in self._stale:  # the quads carry each splat's colour on all four corners
            self._rgb[prog].set_data(self._colors if prog is self.points else np.repeat(self._colors, 4, axis=0))
            self._stale.discard(prog)

    def max_radius(self, requested: float) -> float:
        """The radius clamp in pixels: the requested one (0 = none), within what one point sprite can cover."""
        limit = 0.5 * self.max_point
        return min(requested, limit) if requested > 0 else limit

    def render(self, cam: Camera, sort: SortResult, params: dict, scale: float = 1.0, cancelled=lambda: False):
        """The view's image as (h, w, 4) uint8 at ``scale`` of the camera's resolution; None when ``cancelled()`` said so."""
        W, H = cam.width, cam.height
        w, h = max(1, int(round(W * scale))), max(1, int(round(H * scale)))
        if self._fbo is None or self._fbo.color_buffer.shape[:2] != (h, w):
            self._fbo = gloo.FrameBuffer(color=gloo.RenderBuffer((h, w, 4)))
        R, t = cam.viewmat[:3, :3], cam.viewmat[:3, 3]
        uniforms = dict(u_r0=R[0], u_r1=R[1], u_r2=R[2], u_t=t, u_focal=(cam.fx, cam.fy), u_principal=(cam.cx, cam.cy),
                        u_size=(W, H), u_lim=(1.3 * 0.5 * W / cam.fx, 1.3 * 0.5 * H / cam.fy), u_near=self.sorter.near,
                        u_scale2=params.get("splat_scale", 1.0) ** 2, u_mode=MODES[params.get("mode", "rgb")],
                        u_depth=sort.depth_range, u_max_ext=self.max_radius(params.get("max_radius", 0.0)))
        preview = scale < 1.0
        prog = self.points if preview else self.quads
        self._upload_colors(prog)
        for k, v in uniforms.items():
            prog[k] = tuple(float(x) for x in np.ravel(v)) if np.ndim(v) else float(v)
        if preview:
            prog["u_res"] = float(w) / float(W)
        order = sort.order
        chunks = [order[i:i + CHUNK] for i in range(0, len(order), CHUNK)]
        with self._fbo:
            gloo.set_viewport(0, 0, w, h)
            gloo.set_state(blend=True, blend_func=("one", "one_minus_src_alpha"), depth_test=False, cull_face=False)
            gloo.clear(color=(0.0, 0.0, 0.0, 0.0))
            for i, part in enumerate(chunks):
                if not len(part):
                    continue
                if i >= len(self._ibs):
                    self._ibs.append(gloo.IndexBuffer(np.zeros(6, np.uint32)))
                ib = self._ibs[i]
                ib.set_data(part if preview else (part[:, None].astype(np.uint32) * 4 + _QUAD).ravel())
                prog.draw("points" if preview else "triangles", ib)
                gl.glFlush()  # llvmpipe rasterises this chunk on its threads while this one sets up the next
                if cancelled():
                    return None
            return gloo.read_pixels((0, 0, w, h), alpha=True)


class RenderThread(QObject):
    """Sorts (with S² reuse) and draws the newest requested view in a daemon thread that owns a GL context.

    Requests are dropped in favour of newer ones; :meth:`render_now` waits for one frame (exports, tests,
    screenshots). A plain daemon thread rather than a QThread: it never holds up the application's exit, and
    its frames reach the GUI thread through a queued signal.
    """

    rendered = Signal(object)  # RenderedFrame
    failed = Signal(str)
    ready = Signal(str, bool)  # the GL renderer's name, whether it is a software rasteriser

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cv = threading.Condition()
        self._request = None
        self._sync: list = []  # (cam, params, scale, seq, holder dict, Event)
        self._seq = 0
        self._quit = False
        self.sorter: ViewSorter | None = None
        self.error: str | None = None
        self.renderer_name = ""
        self._surface = QOffscreenSurface()  # created here: a surface belongs to the GUI thread
        self._surface.setFormat(QSurfaceFormat.defaultFormat())
        self._surface.create()
        self._thread = threading.Thread(target=self.run, name="splat-render", daemon=True)
        _live.add(self)

    def start(self) -> None:
        self._thread.start()

    def request(self, cam: Camera, params: dict, scale: float = 1.0) -> None:
        with self._cv:
            self._seq += 1
            self._request = (cam, dict(params), scale, self._seq)
            self._cv.notify()

    def render_now(self, cam: Camera, params: dict, scale: float = 1.0, timeout: float = 60.0) -> RenderedFrame:
        """Draw one frame and wait for it (raises RuntimeError when GL is unavailable or the frame failed)."""
        if self.error:
            raise RuntimeError(self.error)
        done, holder = threading.Event(), {}
        with self._cv:
            self._seq += 1
            self._sync.append((cam, dict(params), scale, self._seq, holder, done))
            self._cv.notify()
        if not done.wait(timeout):
            raise RuntimeError("the viewport's render thread did not answer")
        if "error" in holder:
            raise RuntimeError(holder["error"])
        return holder["frame"]

    def stop(self) -> None:
        _live.discard(self)
        with self._cv:
            self._quit = True
            self._cv.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5.0)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _moving_again(self) -> bool:
        """A rest frame is given up when a reduced-resolution (moving) view was requested meanwhile, or at exit."""
        return self._quit or (self._request is not None and self._request[2] < 1.0)

    def run(self) -> None:
        ctx = QOpenGLContext()
        ctx.setFormat(self._surface.format())
        if not ctx.create() or not ctx.makeCurrent(self._surface):
            self._give_up("OpenGL is not available: the viewport cannot draw (the engine view still works)")
            return
        with _gl_lock:
            canvas = FakeCanvas()
            renderer = SplatRenderer()
            name = str(gl.glGetParameter(gl.GL_RENDERER))
        self.renderer_name = name
        self.ready.emit(name, is_software(name))
        try:
            self._loop(canvas, renderer)
        finally:
            with _gl_lock:
                set_current_canvas(canvas)
                del renderer
                canvas.flush()
            ctx.doneCurrent()
            del ctx  # destroyed in the thread it was current in

    def _give_up(self, message: str) -> None:
        self.error = message
        log.error("splat viewer: %s", message)
        self.failed.emit(message)
        with self._cv:  # waiters get the error instead of a frame
            for *_, holder, done in self._sync:
                holder["error"] = message
                done.set()
            self._sync.clear()

    def _loop(self, canvas, renderer: SplatRenderer) -> None:
        while True:
            with self._cv:
                while self._request is None and not self._sync and not self._quit:
                    self._cv.wait()
                if self._quit:
                    return
                if self._sync:
                    cam, params, scale, seq, holder, done = self._sync.pop(0)
                else:
                    (cam, params, scale, seq), self._request, holder, done = self._request, None, None, None
            try:
                frame = self._draw(canvas, renderer, cam, params, scale, seq, cancel=done is None and scale >= 1.0)
            except Exception as err:  # a failed frame is logged and reported; the next request tries again
                log.exception("splat viewer: frame failed")
                if done is not None:
                    holder["error"] = f"{type(err).__name__}: {err}"
                    done.set()
                continue
            if done is not None:
                holder["frame"] = frame
                done.set()
            elif frame is not None:
                self.rendered.emit(frame)

    def _draw(self, canvas, renderer: SplatRenderer, cam: Camera, params: dict, scale: float, seq: int, cancel: bool):
        sorter = self.sorter
        if sorter is None:
            raise RuntimeError("no scene")
        t0 = time.perf_counter()
        degree = min(params.get("sh_degree", sorter.sh_degree), sorter.scene.sh_degree)
        if degree != sorter.sh_degree:
            sorter.set_sh_degree(degree)  # the next sort re-evaluates the colours
        sort, colors = sorter.view(cam, params.get("rule"))  # the engine's S² rule (None: sort every view)
        with _gl_lock:
            set_current_canvas(canvas)
            if renderer.sorter is not sorter:
                renderer.set_scene(sorter)  # with the sorter's current colours
            elif colors is not None:
                renderer.set_colors(colors)
            image = renderer.render(cam, sort, params, scale, self._moving_again if cancel else (lambda: self._quit))
        if image is None:
            return None
        return RenderedFrame(image, scale, sort, 1000 * (time.perf_counter() - t0), sorter, seq)


class Viewport(QWidget):
    """Paints the newest rendered frame, scaled to the widget, with an overlay line; input arrives as Qt events.

    Drawn with QPainter (no GL on the GUI thread): a reduced-resolution frame is scaled up smoothly.
    """

    # ---- input: the panel turns these into camera moves --------------------------------------------------
    pressed = Signal(float, float)
    dragged = Signal(float, float)  # dx, dy in pixels since the last move, while a button is held
    wheeled = Signal(float)  # wheel steps (positive: away from the user)
    double_clicked = Signal(float, float)
    key_pressed = Signal(str)  # the key's text, upper case
    resized = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.image: QImage | None = None
        self.frame: RenderedFrame | None = None
        self.overlay = ""
        self.message = ""
        self.frame_times: deque[float] = deque(maxlen=60)
        self._drag = None

    def set_frame(self, frame: RenderedFrame) -> bool:
        """Show ``frame`` unless a frame of a newer request is already shown; True when shown."""
        if self.frame is not None and frame.seq < self.frame.seq:
            return False
        a = np.ascontiguousarray(frame.image)
        self.image = QImage(a.data, a.shape[1], a.shape[0], 4 * a.shape[1], QImage.Format.Format_RGBA8888_Premultiplied).copy()
        self.frame = frame
        self.frame_times.append(time.perf_counter())
        self.update()
        return True

    def set_overlay(self, text: str) -> None:
        if text != self.overlay:
            self.overlay = text
            self.update()

    def fps(self) -> float | None:
        """Frames shown per second over the last two seconds (None with fewer than five)."""
        t = [x for x in self.frame_times if x > time.perf_counter() - 2.0]
        if len(t) < 5:
            return None
        return (len(t) - 1) / max(t[-1] - t[0], 1e-6)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("black"))
        if self.image is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.image.width() < self.width())
            p.drawImage(QRectF(self.rect()), self.image)
        text = self.message or self.overlay
        if text:
            fm = p.fontMetrics()
            box = QRectF(4, self.height() - fm.height() - 8, fm.horizontalAdvance(text) + 10, fm.height() + 4)
            p.fillRect(box, QColor(0, 0, 0, 150))
            p.setPen(QColor("#ff8080" if self.message else "#f0f0f0"))
            p.drawText(QPointF(box.left() + 5, box.bottom() - fm.descent() - 2), text)
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._drag = event.position()
        self.setFocus()
        self.pressed.emit(self._drag.x(), self._drag.y())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        last = self._drag
        if last is None or not event.buttons():
            return
        pos = event.position()
        self._drag = pos
        self.dragged.emit(pos.x() - last.x(), pos.y() - last.y())

    def mouseReleaseEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        self._drag = None

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.wheeled.emit(event.angleDelta().y() / 120.0)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.double_clicked.emit(event.position().x(), event.position().y())

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.key_pressed.emit(event.text().upper())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self.resized.emit()
