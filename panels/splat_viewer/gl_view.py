"""The live GL viewport: splats as screen-space ellipses blended back to front (vispy), sorted in a worker with S².

The vertex shader computes the same EWA covariance as the engine's exact rasteriser (J W Σ Wᵀ Jᵀ + 0.3 I,
with the 1.3× field-of-view clamp) and spans a quad over the ellipse out to the radius where α reaches
1/255, in the ellipse's eigenbasis; the fragment shader evaluates α = min(0.99, o e^{-q/2}) and
discards α < 1/255. Premultiplied "over" blending of back-to-front splats equals front-to-back compositing.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import vispy

vispy.use(app="pyside6")

from PySide6.QtCore import QObject, QThread, Signal  # noqa: E402
from vispy import gloo, scene  # noqa: E402
from vispy.visuals import Visual  # noqa: E402

from engines.splatting.camera import Camera  # noqa: E402
from engines.splatting.viewer import ViewSorter  # noqa: E402

VERT = """
attribute vec3 a_center;
attribute vec3 a_cov_a;
attribute vec3 a_cov_b;
attribute vec4 a_color;
attribute vec2 a_corner;
uniform mat4 u_view;
uniform vec4 u_intr;
uniform vec2 u_size;
uniform float u_scale2;
uniform float u_mode;
uniform vec2 u_depth;
varying vec4 v_color;
varying vec2 v_pos;
void main() {
    vec4 t = u_view * vec4(a_center, 1.0);
    float o = a_color.a;
    if (t.z <= 0.2 || o < 1.0 / 255.0) { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); return; }
    mat3 S = mat3(a_cov_a.x, a_cov_a.y, a_cov_a.z,
                  a_cov_a.y, a_cov_b.x, a_cov_b.y,
                  a_cov_a.z, a_cov_b.y, a_cov_b.z) * u_scale2;
    float fx = u_intr.x, fy = u_intr.y;
    float limx = 1.3 * 0.5 * u_size.x / fx, limy = 1.3 * 0.5 * u_size.y / fy;
    float tx = clamp(t.x / t.z, -limx, limx) * t.z;
    float ty = clamp(t.y / t.z, -limy, limy) * t.z;
    // GLSL is column-major: these are the columns of J = [[fx/z, 0, -fx tx/z^2], [0, fy/z, -fy ty/z^2], [0, 0, 0]]
    mat3 J = mat3(fx / t.z, 0.0, 0.0,
                  0.0, fy / t.z, 0.0,
                  -fx * tx / (t.z * t.z), -fy * ty / (t.z * t.z), 0.0);
    mat3 W = mat3(u_view);
    mat3 T = J * W;
    mat3 cov = T * S * transpose(T);
    float a = cov[0][0] + 0.3, b = cov[0][1], c = cov[1][1] + 0.3;
    float mid = 0.5 * (a + c);
    float det = a * c - b * b;
    float d = sqrt(max(mid * mid - det, 0.0));
    float l1 = mid + d, l2 = max(mid - d, 1e-6);
    vec2 e1 = abs(b) > 1e-9 ? normalize(vec2(b, l1 - a)) : (a >= c ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
    vec2 e2 = vec2(-e1.y, e1.x);
    float r = sqrt(2.0 * log(255.0 * o));
    vec2 off = a_corner.x * r * sqrt(l1) * e1 + a_corner.y * r * sqrt(l2) * e2;
    float u = fx * t.x / t.z + u_intr.z + off.x;
    float v = fy * t.y / t.z + u_intr.w + off.y;
    gl_Position = vec4(2.0 * u / u_size.x - 1.0, 1.0 - 2.0 * v / u_size.y, 0.0, 1.0);
    v_pos = a_corner * r;
    vec3 rgb = a_color.rgb;
    if (u_mode > 0.5 && u_mode < 1.5) {
        float s = clamp((t.z - u_depth.x) / max(u_depth.y - u_depth.x, 1e-6), 0.0, 1.0);
        rgb = vec3(1.0 - s, 0.35 + 0.4 * (1.0 - abs(2.0 * s - 1.0)), s);
    } else if (u_mode > 1.5) {
        rgb = vec3(1.0);
    }
    v_color = vec4(rgb, o);
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
_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)


class SplatVisual(Visual):
    """N splats as 4-vertex quads; the index buffer is the draw order (rebuilt per sort)."""

    def __init__(self):
        Visual.__init__(self, vcode=VERT, fcode=FRAG)
        self._draw_mode = "triangles"
        self.set_gl_state(blend=True, blend_func=("one", "one_minus_src_alpha"), depth_test=False, cull_face=False)
        self._index_buffer = gloo.IndexBuffer(np.zeros(0, np.uint32))
        self.n = 0
        self.drawn = 0
        self._color_vbo = None
        self._opacity = None
        self.set_uniforms(np.eye(4), (100.0, 100.0, 50.0, 50.0), (100, 100), 1.0, "rgb", (0.1, 10.0))

    def set_splats(self, arrays: dict) -> None:
        n = len(arrays["center"])
        self.n = n

        def quad(a):
            return np.ascontiguousarray(np.repeat(a.astype(np.float32), 4, axis=0))

        p = self.shared_program
        p["a_center"] = gloo.VertexBuffer(quad(arrays["center"]))
        p["a_cov_a"] = gloo.VertexBuffer(quad(arrays["cov_a"]))
        p["a_cov_b"] = gloo.VertexBuffer(quad(arrays["cov_b"]))
        p["a_corner"] = gloo.VertexBuffer(np.ascontiguousarray(np.tile(_CORNERS, (n, 1))))
        self._opacity = arrays["opacity"].astype(np.float32)
        self._color_vbo = gloo.VertexBuffer(quad(np.c_[np.full((n, 3), 0.5, np.float32), self._opacity]))
        p["a_color"] = self._color_vbo
        self._index_buffer = gloo.IndexBuffer(np.zeros(0, np.uint32))
        self.drawn = 0

    def set_colors(self, rgb: np.ndarray) -> None:
        self._color_vbo.set_data(np.ascontiguousarray(np.repeat(np.c_[rgb.astype(np.float32), self._opacity], 4, axis=0)))

    def set_order(self, order: np.ndarray) -> None:
        """Back-to-front splat indices → two triangles per splat."""
        base = (order.astype(np.uint32) * 4)[:, None]
        idx = (base + np.array([0, 1, 2, 0, 2, 3], np.uint32)[None, :]).reshape(-1)
        self._index_buffer.set_data(np.ascontiguousarray(idx))
        self.drawn = len(order)

    def set_uniforms(self, viewmat, intr, size, scale, mode, depth_range) -> None:
        p = self.shared_program
        p["u_view"] = np.asarray(viewmat, np.float32).T.copy()  # numpy row-major → GLSL column-major
        p["u_intr"] = tuple(float(v) for v in intr)
        p["u_size"] = (float(size[0]), float(size[1]))
        p["u_scale2"] = float(scale) ** 2
        p["u_mode"] = MODES[mode]
        p["u_depth"] = tuple(float(v) for v in depth_range)

    def _prepare_transforms(self, view):
        pass

    def _prepare_draw(self, view):
        return self.drawn > 0

    def _compute_bounds(self, axis, view):
        return None


Splats = scene.visuals.create_visual_node(SplatVisual)


class SortWorker(QThread):
    """Sorts for the newest requested view in its own thread; older requests are dropped."""

    sorted = Signal(object, object, object)  # SortResult, Camera, the ViewSorter that made it

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cv = threading.Condition()
        self._request = None
        self._quit = False
        self.sorter: ViewSorter | None = None

    def request(self, cam: Camera, params: dict) -> None:
        with self._cv:
            self._request = (cam, params)
            self._cv.notify()

    def stop(self) -> None:
        with self._cv:
            self._quit = True
            self._cv.notify()
        self.wait(2000)

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
            res = sorter.sort(cam, **params)
            self.sorted.emit(res, cam, sorter)


class SplatCanvas(QObject):
    """A SceneCanvas with the splat visual, an overlay (fps, sort time, splat count) and frame-time bookkeeping."""

    def __init__(self, size=(648, 420)):
        super().__init__()
        self.canvas = scene.SceneCanvas(keys=None, size=size, bgcolor="black", show=False)
        self.splats = Splats(parent=self.canvas.scene)
        self.splats.order = 0
        self.overlay = scene.visuals.Text("", parent=self.canvas.scene, color="#f0f0f0", font_size=8, anchor_x="left",
                                          anchor_y="top", pos=(8, 8))
        self.overlay.order = 1
        self.frame_times: deque[float] = deque(maxlen=40)
        self.canvas.events.draw.connect(self._on_draw, position="last")

    def _on_draw(self, _event) -> None:
        self.frame_times.append(time.perf_counter())

    def fps(self) -> float | None:
        t = [x for x in self.frame_times if x > time.perf_counter() - 2.0]
        if len(t) < 5:
            return None
        return (len(t) - 1) / max(t[-1] - t[0], 1e-6)

    def render_image(self) -> np.ndarray:
        """The framebuffer as RGB floats in [0, 1] (overlay hidden)."""
        vis = self.overlay.visible
        self.overlay.visible = False
        img = self.canvas.render(alpha=False)
        self.overlay.visible = vis
        return img[..., :3].astype(np.float32) / 255.0
