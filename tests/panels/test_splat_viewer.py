"""The 3DGS viewer panel: default job through the job runner, the GL viewport against the exact renderer, exports."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("vispy")

from engines.splatting import orbit_path, procedural_scene, psnr  # noqa: E402
from engines.splatting.rasterizer import render_exact, to_device  # noqa: E402


@pytest.fixture
def panel(build_panel):
    from panels.splat_viewer import SplatViewerPanel

    p = build_panel(SplatViewerPanel, show=True)
    yield p
    p.viewport.stop()


def test_default_job_runs_through_the_job_runner_and_fills_the_views(panel, qtbot):
    cfg = panel.config().replace(width=96, height=64, frames=2)
    job = panel.run_job(cfg)
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    r = panel.result
    assert r.frames_done == 2 and r.rgb_exact.shape == (64, 96, 3)
    xs, ys = panel.plots.exact_curve.getData()
    assert len(xs) == 2 and np.all(ys > 0)
    assert len(panel.plots.psnr_curve.getData()[0]) == 2
    assert panel.engine_view.image_item.image is not None and panel.engine_view.image_item.image.shape[:2] == (64, 96)
    assert r.verdict() in panel.headline.text() and "against exact" in panel.headline.text()
    panel.engine_view.hit_box.setChecked(True)
    panel.engine_view.view_box.setCurrentText("difference")
    assert panel.engine_view.image_item.image.shape[:2] == (64, 96)


def _fixed_view(panel, qtbot, scene, w=160, h=100):
    """The viewport at w × h px looking at ``scene`` from a fixed pose; returns that camera."""
    from engines.splatting import OrbitControl

    vp = panel.viewport
    vp.set_scene(scene, panel.config())
    vp.gl.setFixedSize(w, h)
    qtbot.waitUntil(lambda: (vp.gl.width(), vp.gl.height()) == (w, h), timeout=5000)
    cam = orbit_path([0, 0, 0.7], 6.5, 2.0, 1, 0, w, h, 60, start_deg=-70)[0]
    vp.orbit = OrbitControl.from_camera(cam, np.array([0, 0, 0.7]), (0, 0, 1))
    vp._fov_cam = cam
    got = vp.current_camera()
    assert np.allclose(got.viewmat, cam.viewmat, atol=1e-9) and np.isclose(got.fx, cam.fx)
    return cam


def test_gl_viewport_matches_the_exact_renderer(panel, qtbot):
    # the viewport's GL frame (drawn in its render thread) against the torch engine's exact frame at the same pose
    scene = procedural_scene(6000, seed=1)
    cam = _fixed_view(panel, qtbot, scene)
    frame = panel.viewport.render_now()
    gl = frame.rgb()
    assert gl.shape == (cam.height, cam.width, 3) and frame.scale == 1.0
    exact = render_exact(to_device(scene, torch.device("cpu"), torch.float32), cam).rgb
    assert exact.mean() > 0.1  # something is in view
    assert psnr(exact, gl) >= 30.0
    assert panel.viewport.gl.frame is frame  # and the widget shows it


def test_viewport_mouse_wheel_and_keys_move_the_camera(panel, qtbot):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    vp, orbit = panel.viewport.gl, panel.viewport.orbit
    qtbot.waitUntil(lambda: vp.frame is not None, timeout=10_000)
    az, el, dist = orbit.azimuth, orbit.elevation, orbit.distance
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(100, 100))
    QTest.mouseMove(vp, QPoint(150, 120))  # drag: orbit by -0.4°/px horizontally, +0.3°/px vertically
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(150, 120))
    assert orbit.azimuth == pytest.approx(az - 0.4 * 50) and orbit.elevation == pytest.approx(el + 0.3 * 20)
    assert panel.viewport.moving  # drawn at the reduced resolution until the camera rests
    centre = QPointF(vp.width() / 2, vp.height() / 2)
    wheel = QWheelEvent(centre, vp.mapToGlobal(centre), QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, wheel)  # two steps away: distance × 0.9²
    assert orbit.distance == pytest.approx(dist * 0.81)
    QTest.keyClick(vp, Qt.Key.Key_F)
    assert panel.viewport.fly_box.isChecked()
    eye = orbit.eye()
    QTest.keyClick(vp, Qt.Key.Key_W)  # fly forward by 5 % of the orbit distance
    assert np.linalg.norm(orbit.eye() - eye) == pytest.approx(0.05 * orbit.distance)
    qtbot.waitUntil(lambda: not panel.viewport.moving and vp.frame.scale == 1.0, timeout=10_000)  # at rest: full resolution
    eye = orbit.eye()
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre.toPoint())
    assert np.allclose(orbit.eye(), eye)  # re-centred on the splat under the cursor, from the same eye
    assert np.min(np.linalg.norm(panel.viewport.scene.means - orbit.target, axis=1)) < 1e-5


def test_export_frame_and_path_sequence(panel, tmp_path):
    p = panel.viewport.export_frame(tmp_path / "f.png")
    assert p.stat().st_size > 0
    files = panel.viewport.export_sequence(tmp_path / "seq")
    assert len(files) == panel.config().frames and all(f.stat().st_size > 0 for f in files)


def test_open_file_loads_a_ply(panel, qtbot, tmp_path):
    from engines.splatting import write_ply

    path = write_ply(procedural_scene(1500, seed=5), tmp_path / "small.ply")
    panel.set_config(panel.config().replace(width=64, height=48, frames=1))
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: panel.viewport.scene is not None and panel.viewport.scene.name == "small", timeout=20_000)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    assert panel.result.scene == "small"


def test_visible_text_is_deterministic_and_close_joins_the_render_thread(panel, qtbot):
    # screenshots compare pixels: before the user moves the view the overlay carries no timings, and the banner
    # shows evaluation counts and ratios, with the wall-clock milliseconds in its tooltip only
    vp = panel.viewport
    panel.run_blocking(panel.config().replace(width=64, height=40, frames=2))
    assert vp.gl.frame is not None and vp.gl.frame.scale == 1.0  # run_blocking also drew the viewport
    text = vp.gl.overlay
    assert "splats" in text and "S² on (window 6)" in text and "ms" not in text and "fps" not in text
    assert "ms/frame" not in panel.headline.text() and "blending work" in panel.headline.text()
    assert "ms/frame" in panel.headline.toolTip()
    vp.mark_interaction()
    vp.update_overlay()
    assert "ms" in vp.gl.overlay
    panel.close()
    assert not vp.worker.is_alive()


def test_moving_draws_at_reduced_resolution_and_rest_restores_full(panel, qtbot):
    scene = procedural_scene(6000, seed=1)
    cam = _fixed_view(panel, qtbot, scene)
    full = panel.viewport.render_now().rgb()
    shown = []
    panel.viewport.worker.rendered.connect(lambda f: shown.append(f.scale))
    panel.viewport.moving_box.setCurrentText("1/2")
    panel.viewport.camera_moved()  # the pose is unchanged: the preview draws the same view
    qtbot.waitUntil(lambda: 0.5 in shown, timeout=10_000)
    preview = panel.viewport.gl.frame
    assert preview.image.shape[:2] == (cam.height // 2, cam.width // 2)
    half = np.repeat(np.repeat(preview.rgb(), 2, 0), 2, 1)
    # the same picture from a quarter of the pixels (sprites whose centre is off screen are clipped: the border differs)
    assert 24.0 <= psnr(full[8:-8, 8:-8], half[8:-8, 8:-8]) < 100.0
    qtbot.waitUntil(lambda: shown[-1] == 1.0, timeout=10_000)  # the camera stopped: full resolution again
    assert panel.viewport.gl.frame.image.shape[:2] == (cam.height, cam.width)


def test_max_splat_radius_clamps_the_footprint_in_the_shader(panel, qtbot):
    # one large Gaussian in front of the camera: with the clamp at 4 px nothing is drawn farther than 4 px from its centre
    from engines.splatting import Scene

    # (a second, invisible Gaussian only gives the scene an extent for its default camera)
    one = Scene(means=np.array([[0.0, 0.0, 0.7], [1.0, 1.0, 0.0]], np.float32), sh=np.full((2, 1, 3), 1.0, np.float32),
                opacity_logit=np.array([4.0, -12.0], np.float32), log_scales=np.log(np.full((2, 3), 0.4, np.float32)),
                quats=np.array([[1.0, 0, 0, 0]] * 2, np.float32), name="one")
    cam = _fixed_view(panel, qtbot, one)
    R, t = cam.viewmat[:3, :3], cam.viewmat[:3, 3]
    p = R @ one.means[0] + t
    u, v = cam.fx * p[0] / p[2] + cam.cx, cam.fy * p[1] / p[2] + cam.cy
    yy, xx = np.mgrid[0 : cam.height, 0 : cam.width] + 0.5
    far = (xx - u) ** 2 + (yy - v) ** 2 > 5.0**2
    panel.viewport.radius_box.setValue(0)
    unclamped = panel.viewport.render_now().image[..., 3]
    assert unclamped[far].max() > 100  # the splat covers much more than 4 px
    panel.viewport.radius_box.setValue(4)
    clamped = panel.viewport.render_now().image[..., 3]
    assert clamped[far].max() == 0 and clamped[~far].max() > 100


def test_without_opengl_the_viewport_says_so_and_the_engine_still_runs(build_panel, qtbot, monkeypatch, tmp_path):
    import panels.splat_viewer.gl_view as gl_view
    from panels.splat_viewer import SplatViewerPanel

    class NoContext:  # a machine whose OpenGL cannot create a context
        def setFormat(self, _fmt):  # noqa: N802 (Qt API)
            pass

        def create(self):
            return False

    monkeypatch.setattr(gl_view, "QOpenGLContext", NoContext)
    p = build_panel(SplatViewerPanel, show=True)
    try:
        qtbot.waitUntil(lambda: "OpenGL is not available" in p.viewport.gl.message, timeout=10_000)
        assert "OpenGL" in p.error.text()
        with pytest.raises(RuntimeError, match="OpenGL is not available"):
            p.viewport.render_now()
        p.run_job(p.config().replace(width=48, height=32, frames=1))  # the torch engine does not need GL
        qtbot.waitUntil(lambda: p.result is not None, timeout=60_000)
        assert (p.export(tmp_path / "out") / "result.json").exists()  # export leaves out only the viewport's image
    finally:
        p.viewport.stop()


def test_software_gl_is_recognised_and_keeps_the_reduced_preview(panel, qtbot):
    from panels.splat_viewer.gl_view import is_software

    assert is_software("llvmpipe (LLVM 15.0.6, 256 bits)") and is_software("SwiftShader Device")
    assert not is_software("NVIDIA H200/PCIe/SSE2") and not is_software("AMD Radeon RX 7900 XTX")
    qtbot.waitUntil(lambda: panel.viewport.worker.renderer_name != "", timeout=10_000)
    software = is_software(panel.viewport.worker.renderer_name)
    assert panel.viewport.moving_box.currentText() == ("1/4" if software else "full")
    assert panel.viewport.worker.renderer_name in panel.viewport.gl.toolTip()


def test_a_frame_of_an_older_request_never_replaces_a_newer_one(panel, qtbot):
    # a view requested before a synchronous render may finish after it: the screen keeps the newer frame
    newer = panel.viewport.render_now()
    older = copy.copy(newer)
    older.seq, older.image = newer.seq - 1, np.zeros_like(newer.image)
    panel.viewport._on_frame(older)
    assert panel.viewport.gl.frame is newer and panel.viewport.last_frame is newer


def _far_scene(outliers: float = 0.12):
    """The procedural scene moved 4,800 units from the origin, 12 % of its splats thrown far around it (floaters)."""
    s = procedural_scene(6000, seed=3)
    rng = np.random.default_rng(0)
    m = s.means.astype(np.float64) + [4000.0, -2500.0, 900.0]
    k = int(outliers * s.n)
    d = rng.normal(size=(k, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    m[:k] = m[:k].mean(0) + d * rng.uniform(200, 600, (k, 1))
    s.means = m.astype(np.float32)
    return s


def _coverage(alpha) -> float:
    return float((np.asarray(alpha, float) > 0.5).mean())


@pytest.mark.parametrize("with_cameras", [False, True])
def test_an_opened_ply_far_from_the_origin_fills_the_first_frame(panel, qtbot, tmp_path, with_cameras):
    import json

    from engines.splatting import Camera, look_at, write_cameras_json, write_ply

    scene = _far_scene()
    path = write_ply(scene, tmp_path / "far.ply")
    centre = np.median(scene.means[len(scene.means) // 8:], axis=0)
    cam = None
    if with_cameras:  # a real camera beside the file: the view starts there (its own field of view)
        cam = Camera(look_at(centre + [2.0, -5.5, 2.5], centre + [0.0, 0.0, 0.5]), 300.0, 300.0, 160.0, 100.0, 320, 200)
        write_cameras_json([cam], tmp_path / "cameras.json")
    panel.set_config(panel.config().replace(width=80, height=50, frames=1))
    panel.open_file(str(path))
    vp = panel.viewport
    qtbot.waitUntil(lambda: vp.scene is not None and vp.scene.name == "far", timeout=20_000)
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.scene == "far", timeout=60_000)
    r = panel.result
    assert _coverage(r.alpha_exact) > 0.25  # the engine's first (only) frame: the object, not background
    frame = vp.render_now()
    assert _coverage(frame.image[..., 3] / 255.0) > 0.25  # and the viewport's first frame
    if with_cameras:
        assert np.allclose(vp.current_camera().position, cam.position, atol=1e-3)
        assert np.allclose(vp.current_camera().forward, cam.forward, atol=1e-6)
        assert r.cameras_file.endswith("cameras.json") and "cameras.json" in panel.source
    else:
        assert r.cameras_file == "" and "framing its splats" in panel.source
    # the frame-the-scene key brings the view back after the user turned away (framed for the viewport's size)
    from engines.splatting import framing_camera

    vp.orbit.orbit(150.0, 30.0)
    vp.orbit.zoom(5.0)
    framed = framing_camera(vp.scene, vp.gl.width(), vp.gl.height(), panel.config().fov_deg)[0]
    assert not np.allclose(vp.current_camera().position, framed.position)
    vp.gl.key_pressed.emit("C")
    assert np.allclose(vp.current_camera().position, framed.position, atol=1e-6)
    assert np.allclose(vp.current_camera().forward, framed.forward, atol=1e-6)
    # export says what was opened
    out = panel.export(tmp_path / "export")
    summary = json.loads((out / "result.json").read_text())
    assert summary["scene_file"] == str(path) and json.loads((out / "source.json").read_text())["showing"] == panel.source
