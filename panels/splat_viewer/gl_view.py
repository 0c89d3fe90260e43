"""The live GL viewport: splats as screen-space ellipses blended back to front (vispy), sorted in a worker with S².

The worker computes each frame's screen-space ellipses with the same EWA covariance as the engine's
exact rasteriser (J W Σ Wᵀ Jᵀ + 0.3 I, with the 1.3× field-of-view clamp); each quad spans the ellipse out
to the radius where α reaches 1/255, in its eigenbasis; the fragment shader evaluates
α = min(0.99, o e^{-q/2}) and discards α < 1/255. Premultiplied "over" blending of back-to-front splats equals front-to-back compositing.

While the camera moves the panel sets ``SplatVisual.scale`` below 1: the splats go into a smaller texture as one point
sprite each (the same α from the ellipse's conic) and that texture is drawn over the viewport; at rest, full-resolution
quads. On llvmpipe a frame costs per primitive and per pixel filled, and both drop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np
import vispy

vispy.use(app="pyside6")

from PySide6.QtCore import QObject, Signal  # noqa: E402
from vispy import gloo, scene  # noqa: E402
from vispy.gloo import gl  # noqa: E402
from vispy.visuals import Visual  # noqa: E402

from engines.splatting.camera import Camera  # noqa: E402
from engines.splatting.viewer import ViewSorter  # noqa: E402

VERT = """
attribute vec2 a_pos;
attribute vec2 a_q;
attribute vec4 a_color;
uniform vec2 u_size;
varying vec4 v_color;
varying vec2 v_pos;
void main() {
    gl_Position = vec4(2.0 * a_pos.x / u_size.x - 1.0, 1.0 - 2.0 * a_pos.y / u_size.y, 0.0, 1.0);
    v_pos = a_q;
    v_color = a_color;
}
"""

FRAG = """
varying vec4 v_color;
varying vec2 v_pos;
void main() {
    float alpha = min(0.99, v_color.a * exp(-0.5 * dot(v_pos, v_pos)));
    if (alpha < 1.0 / 255.0) discard;
    gl_FragColor = vec4(v_color.rgb * alpha, alpha);
}
"""

MODES = {"rgb": 0.0, "depth": 1.0, "alpha": 2.0}

# the preview while the camera moves: one point sprite per splat (one primitive instead of a quad's two triangles;
# llvmpipe's cost there is per primitive), the ellipse evaluated from its conic in the fragment shader
PTS_VERT = """
attribute vec2 a_mean;
attribute vec3 a_conic;
attribute vec4 a_color;
attribute float a_radius;
uniform vec2 u_size;
uniform float u_scale;
varying vec4 v_color;
varying vec3 v_conic;
varying float v_radius;
void main() {
    gl_Position = vec4(2.0 * a_mean.x / u_size.x - 1.0, 1.0 - 2.0 * a_mean.y / u_size.y, 0.0, 1.0);
    float size = max(2.0 * a_radius * u_scale, 1.0);
    gl_PointSize = size;
    v_color = a_color;
    v_conic = a_conic;
    v_radius = 0.5 * size / u_scale;
}
"""

PTS_FRAG = """
varying vec4 v_color;
varying vec3 v_conic;
varying float v_radius;
void main() {
    vec2 d = (gl_PointCoord - 0.5) * 2.0 * v_radius;  // offset from the centre in full-resolution pixels (y down)
    float q = v_conic.x * d.x * d.x + 2.0 * v_conic.y * d.x * d.y + v_conic.z * d.y * d.y;
    float alpha = min(0.99, v_color.a * exp(-0.5 * q));
    if (alpha < 1.0 / 255.0) discard;
    gl_FragColor = vec4(v_color.rgb * alpha, alpha);
}
"""
_PTS_DTYPE = [("a_mean", np.float32, 2), ("a_conic", np.float32, 3), ("a_color", np.float32, 4), ("a_radius", np.float32, 1)]
GL_VERTEX_PROGRAM_POINT_SIZE = 0x8642


def point_sprites(frame) -> np.ndarray:
    """(n, 10) float32 per splat: centre, the conic (inverse 2D covariance: xx, xy, yy) in pixels, RGBA, the radius."""
    n = len(frame.mean2d)
    out = np.empty((n, 10), np.float32)
    if n == 0:
        return out
    o = frame.rgba[:, 3]
    r = np.sqrt(2.0 * np.log(np.maximum(255.0 * o, 1.0))).astype(np.float32)
    rr = np.maximum(r, 1e-6)[:, None]
    a1, a2 = frame.axes[:, :2] / rr, frame.axes[:, 2:] / rr  # √λ e: Σ = a1 a1ᵀ + a2 a2ᵀ
    sxx = a1[:, 0] ** 2 + a2[:, 0] ** 2
    sxy = a1[:, 0] * a1[:, 1] + a2[:, 0] * a2[:, 1]
    syy = a1[:, 1] ** 2 + a2[:, 1] ** 2
    det = np.maximum(sxx * syy - sxy * sxy, 1e-12)
    out[:, 0:2] = frame.mean2d
    out[:, 2], out[:, 3], out[:, 4] = syy / det, -sxy / det, sxx / det
    out[:, 5:9] = frame.rgba
    out[:, 9] = np.sqrt(np.maximum((frame.axes[:, :2] ** 2).sum(1), (frame.axes[:, 2:] ** 2).sum(1)))
    return out

BLIT_VERT = """
attribute vec2 a_pos;
varying vec2 v_uv;
void main() {
    v_uv = 0.5 * (a_pos + 1.0);
    gl_Position = vec4(a_pos, 0.0, 1.0);
}
"""

BLIT_FRAG = """
uniform sampler2D u_tex;
varying vec2 v_uv;
void main() {
    gl_FragColor = texture2D(u_tex, v_uv);
}
"""


def clamp_radius(frame, max_radius: float):
    """Shrink every splat whose longer half-axis exceeds ``max_radius`` pixels (both axes by the same factor).

    A viewer approximation, as real-time splat viewers clamp screen size: the ellipse keeps its shape and
    opacity but covers fewer pixels. The torch engine never does this.
    """
    if not max_radius or max_radius <= 0 or not len(frame.axes):
        return frame
    ext = np.sqrt(np.maximum((frame.axes[:, :2] ** 2).sum(1), (frame.axes[:, 2:] ** 2).sum(1)))
    big = ext > max_radius
    if big.any():
        axes = frame.axes.copy()
        axes[big] *= (max_radius / ext[big])[:, None].astype(np.float32)
        frame.axes = axes
    return frame


def viewer_frame(sorter: ViewSorter, cam: Camera, params: dict):
    """One frame from ``sorter`` with the viewer-only options applied (``max_radius``: :func:`clamp_radius`)."""
    params = dict(params)
    max_radius = params.pop("max_radius", 0.0)
    frame = clamp_radius(sorter.frame(cam, **params), max_radius)
    frame.quads = quad_vertices(frame)  # built here, off the GUI thread when called by the worker
    frame.points = point_sprites(frame)  # the preview's form (while the camera moves)
    return frame


_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)
_QUAD = np.array([0, 1, 2, 0, 2, 3], np.uint32)


def quad_vertices(frame) -> tuple[np.ndarray, np.ndarray]:
    """The frame's splats as plain quads: (4n, 8) float32 vertices (pixel position, offset in σ units, RGBA) and 6n indices.

    Each corner is centre ± half-axes; its σ offset is the corner × r, r = √(2 ln(255 o)) (where α reaches 1/255).
    One non-instanced draw: llvmpipe runs its whole vertex pipeline once per instance, which cost ~1.3 µs per splat.
    """
    n = len(frame.mean2d)
    if n == 0:
        return np.zeros((0, 8), np.float32), np.zeros(0, np.uint32)
    o = frame.rgba[:, 3]
    r = np.sqrt(2.0 * np.log(np.maximum(255.0 * o, 1.0))).astype(np.float32)
    v = np.empty((n, 4, 8), np.float32)
    cx, cy = _CORNERS[:, 0], _CORNERS[:, 1]
    v[:, :, 0] = frame.mean2d[:, 0:1] + cx * frame.axes[:, 0:1] + cy * frame.axes[:, 2:3]
    v[:, :, 1] = frame.mean2d[:, 1:2] + cx * frame.axes[:, 1:2] + cy * frame.axes[:, 3:4]
    v[:, :, 2] = cx * r[:, None]
    v[:, :, 3] = cy * r[:, None]
    v[:, :, 4:] = frame.rgba[:, None, :]
    idx = (np.arange(n, dtype=np.uint32)[:, None] * 4 + _QUAD).ravel()
    return v.reshape(4 * n, 8), idx


class SplatVisual(Visual):
    """Screen-space splats as quads (4 vertices each, built in the worker by :func:`quad_vertices`), drawn in order.

    llvmpipe runs vertex shaders on one thread, so the projection (the EWA covariance, eigen-axes, culling)
    is done per frame with numpy in the sort worker (:func:`engines.splatting.viewer.screen_splats`) and the
    vertex shader only places the quad's corners; the fragment shader evaluates α.
    """

    def __init__(self):
        Visual.__init__(self, vcode=VERT, fcode=FRAG)
        self._draw_mode = "triangles"
        self.set_gl_state(blend=True, blend_func=("one", "one_minus_src_alpha"), depth_test=False, cull_face=False)
        self._index_buffer = gloo.IndexBuffer(_QUAD)
        self._vbo = gloo.VertexBuffer(np.zeros(4, [("a_pos", np.float32, 2), ("a_q", np.float32, 2), ("a_color", np.float32, 4)]))
        self.shared_program.bind(self._vbo)
        self.shared_program["u_size"] = (100.0, 100.0)
        self.drawn = 0
        self._buffers = {}
        self.scale = 1.0  # < 1: draw into an offscreen target of that fraction of the viewport and upscale (while moving)
        self.target_size = (100, 100)  # the canvas's physical size, set by SplatCanvas before each draw
        self._fbo = None
        self._blit = gloo.Program(BLIT_VERT, BLIT_FRAG)
        self._blit["a_pos"] = gloo.VertexBuffer(np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], np.float32))
        self._pts = gloo.Program(PTS_VERT, PTS_FRAG)
        self._pts_vbo = gloo.VertexBuffer(np.zeros(1, _PTS_DTYPE))
        self._pts.bind(self._pts_vbo)
        self._pts["u_size"] = (100.0, 100.0)
        self._points = None  # this frame's sprites, uploaded when first drawn at a reduced scale
        self._points_uploaded = False

    def set_frame(self, frame, size) -> None:
        """Upload one frame's screen splats (back to front) for a viewport of ``size`` pixels."""
        self.shared_program["u_size"] = (float(size[0]), float(size[1]))
        self.drawn = len(frame.mean2d)
        if self.drawn:
            quads = getattr(frame, "quads", None)
            verts, idx = quads if quads is not None else quad_vertices(frame)
            self._vbo.set_data(verts.view([("a_pos", np.float32, 2), ("a_q", np.float32, 2), ("a_color", np.float32, 4)]).ravel())
            self._index_buffer.set_data(idx)
            self._points, self._points_uploaded = getattr(frame, "points", None), False
            self._pts["u_size"] = (float(size[0]), float(size[1]))

    def draw(self):
        """At scale 1 straight into the canvas; below 1 into a smaller texture (fewer fragments) drawn over the viewport."""
        if self.scale >= 1.0 or not self.drawn or not self.visible:
            return Visual.draw(self)
        W, H = self.target_size
        w, h = max(1, int(round(W * self.scale))), max(1, int(round(H * self.scale)))
        if self._fbo is None or self._fbo.color_buffer.shape[:2] != (h, w):
            tex = gloo.Texture2D((h, w, 4), format="rgba", interpolation="linear")
            self._fbo = gloo.FrameBuffer(color=tex)
            self._blit["u_tex"] = tex
        with self._fbo:
            gloo.set_viewport(0, 0, w, h)
            gloo.set_clear_color((0.0, 0.0, 0.0, 0.0))
            gloo.clear(color=True)
            if self._points is not None:
                if not self._points_uploaded:
                    self._pts_vbo.set_data(self._points.view(_PTS_DTYPE).ravel())
                    self._pts.bind(self._pts_vbo)  # the attribute views take the new length (draw counts from them)
                    self._points_uploaded = True
                self._configure_gl_state()
                gl.glEnable(GL_VERTEX_PROGRAM_POINT_SIZE)  # the shader sets each sprite's size
                self._pts["u_scale"] = float(w) / float(W)
                self._pts.draw("points")
            else:
                Visual.draw(self)
        gloo.set_viewport(0, 0, W, H)
        # the texture holds premultiplied colour: the same "over" blend puts it on the background
        self._blit.draw("triangle_strip")

    def _prepare_transforms(self, view):
        pass

    def _prepare_draw(self, view):
        return self.drawn > 0

    def _compute_bounds(self, axis, view):
        return None


Splats = scene.visuals.create_visual_node(SplatVisual)


class SortWorker(QObject):
    """Sorts (with S² reuse) and projects for the newest requested view in a daemon thread; older requests are dropped.

    A plain daemon thread rather than a QThread: it never holds up the application's exit, and its results
    reach the GUI thread through a queued signal.
    """

    sorted = Signal(object, object, object)  # ScreenSplats, Camera, the ViewSorter that made it

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cv = threading.Condition()
        self._request = None
        self._quit = False
        self.sorter: ViewSorter | None = None
        self._thread = threading.Thread(target=self.run, name="splat-sort", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self, cam: Camera, params: dict) -> None:
        with self._cv:
            self._request = (cam, params)
            self._cv.notify()

    def stop(self) -> None:
        with self._cv:
            self._quit = True
            self._cv.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def run(self) -> None:
        while True:
            with self._cv:
                while self._request is None and not self._quit:
                    self._cv.wait()
                if self._quit:
                    return
                (cam, params), self._request = self._request, None
            sorter = self.sorter
            if sorter is None:
                continue
            try:
                res = viewer_frame(sorter, cam, params)
            except Exception:  # a failed frame is logged and skipped; the next request tries again
                logging.getLogger("workbench.panels").exception("splat viewer: frame failed")
                continue
            self.sorted.emit(res, cam, sorter)


class SplatCanvas(QObject):
    """A SceneCanvas with the splat visual, an overlay (fps, sort time, splat count) and frame-time bookkeeping."""

    def __init__(self, size=(648, 420)):
        super().__init__()
        self.canvas = scene.SceneCanvas(keys=None, size=size, bgcolor="black", show=False)
        self.splats = Splats(parent=self.canvas.scene)
        self.splats.order = 0
        self.overlay = scene.visuals.Text("", parent=self.canvas.scene, color="#f0f0f0", font_size=8, anchor_x="left",
                                          anchor_y="bottom", pos=(8, 18))
        self.overlay.order = 1
        self.frame_times: deque[float] = deque(maxlen=40)
        self.canvas.events.draw.connect(self._on_draw, position="last")

        self.canvas.events.draw.connect(self._before_draw, position="first")

    def _before_draw(self, _event) -> None:
        self.splats.target_size = tuple(int(v) for v in self.canvas.physical_size)

    def _on_draw(self, _event) -> None:
        self.frame_times.append(time.perf_counter())

    def fps(self) -> float | None:
        t = [x for x in self.frame_times if x > time.perf_counter() - 2.0]
        if len(t) < 5:
            return None
        return (len(t) - 1) / max(t[-1] - t[0], 1e-6)

    def render_image(self) -> np.ndarray:
        """The framebuffer as RGB floats in [0, 1] (overlay hidden)."""
        vis, scale = self.overlay.visible, self.splats.scale
        self.overlay.visible, self.splats.scale = False, 1.0
        img = self.canvas.render(alpha=False)
        self.overlay.visible, self.splats.scale = vis, scale
        return img[..., :3].astype(np.float32) / 255.0
