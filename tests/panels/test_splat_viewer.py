"""The 3DGS viewer panel: default job through the job runner, the GL viewport against the exact renderer, exports."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("vispy")

from engines.splatting.camera import orbit_path  # noqa: E402
from engines.splatting.pipeline import psnr  # noqa: E402
from engines.splatting.rasterizer import render_exact, to_device  # noqa: E402
from engines.splatting.scene import procedural_scene  # noqa: E402


@pytest.fixture
def panel(build_panel):
    from panels.splat_viewer import SplatViewerPanel

    p = build_panel(SplatViewerPanel, show=True)
    yield p
    p.worker.stop()


def test_default_job_runs_through_the_job_runner_and_fills_the_views(panel, qtbot):
    cfg = panel.config().replace(width=96, height=64, frames=2)
    job = panel.run_job(cfg)
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    r = panel.result
    assert r.frames_done == 2 and r.rgb_exact.shape == (64, 96, 3)
    xs, ys = panel.exact_curve.getData()
    assert len(xs) == 2 and np.all(ys > 0)
    assert len(panel.psnr_curve.getData()[0]) == 2
    assert panel.image_item.image is not None and panel.image_item.image.shape[:2] == (64, 96)
    assert "vs exact" in panel.headline.text() and "dB" in panel.headline.text()
    panel.hit_box.setChecked(True)
    panel.view_box.setCurrentText("difference")
    assert panel.image_item.image.shape[:2] == (64, 96)


def test_gl_viewport_matches_the_exact_renderer(panel, qtbot):
    # the viewport at a fixed size and pose, against the torch engine's exact frame at the same pose
    scene = procedural_scene(6000, seed=1)
    panel._set_scene(scene, panel.config().replace(procedural_gaussians=6000, seed=1))
    panel.gl.canvas.size = (160, 100)
    qtbot.wait(50)
    w, h = panel.gl.canvas.size
    cam = orbit_path([0, 0, 0.7], 6.5, 2.0, 1, 0, w, h, 60, start_deg=-70)[0]
    from engines.splatting.viewer import OrbitControl

    panel._orbit = OrbitControl.from_camera(cam, np.array([0, 0, 0.7]), (0, 0, 1))
    panel._fov_cam = cam
    panel._update_view(sort_now=True)
    got = panel.current_camera()
    assert np.allclose(got.viewmat, cam.viewmat, atol=1e-9) and np.isclose(got.fx, cam.fx)
    gl = panel.gl.render_image()
    assert gl.shape == (h, w, 3)
    exact = render_exact(to_device(scene, torch.device("cpu"), torch.float32), cam).rgb
    assert exact.mean() > 0.1  # something is in view
    assert psnr(exact, gl) >= 30.0


def test_viewport_interaction_moves_the_camera_and_sorts(panel, qtbot):
    before = panel._orbit.viewmat().copy()
    panel._orbit.orbit(20, 5)
    panel._update_view()
    qtbot.waitUntil(lambda: panel._last_sort is not None, timeout=5000)
    assert not np.allclose(before, panel._orbit.viewmat())
    panel.fly_box.setChecked(True)
    eye = panel._orbit.eye()
    panel._orbit.fly(0.5, 0.0)
    assert np.linalg.norm(panel._orbit.eye() - eye) == pytest.approx(0.5)


def test_export_frame_and_path_sequence(panel, tmp_path):
    p = panel.export_frame(tmp_path / "f.png")
    assert p.stat().st_size > 0
    files = panel.export_sequence(tmp_path / "seq")
    assert len(files) == panel.config().frames and all(f.stat().st_size > 0 for f in files)


def test_open_file_loads_a_ply(panel, qtbot, tmp_path):
    from engines.splatting import write_ply

    path = write_ply(procedural_scene(1500, seed=5), tmp_path / "small.ply")
    panel.set_config(panel.config().replace(width=64, height=48, frames=1))
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: panel._scene is not None and panel._scene.name == "small", timeout=20_000)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    assert panel.result.scene == "small"


def test_visible_text_is_deterministic_and_close_joins_the_sort_thread(panel, qtbot):
    # screenshots compare pixels: before the user moves the view the overlay carries no timings, and the summary
    # shows evaluation counts and ratios, with the wall-clock milliseconds in its tooltip only
    panel.run_blocking(panel.config().replace(width=64, height=40, frames=2))
    panel._update_overlay()
    text = panel.gl.overlay.text
    assert "splats" in text and "S²" in text and "ms" not in text and "fps" not in text
    assert "ms/frame" not in panel.summary.text() and "evaluations" in panel.summary.text()
    assert "ms/frame" in panel.summary.toolTip()
    panel.mark_interaction()
    panel._update_overlay()
    assert "ms" in panel.gl.overlay.text
    panel.close()
    assert not panel.worker._thread.is_alive()


def test_moving_draws_at_reduced_resolution_and_rest_restores_full(panel, qtbot):
    from panels.splat_viewer.gl_view import clamp_radius

    panel.moving_box.setCurrentText("1/2")
    panel.camera_moved()
    assert panel.gl.splats.scale == 0.5
    qtbot.waitUntil(lambda: panel.gl.splats.scale == 1.0, timeout=5000)  # the camera stopped: full resolution
    panel._update_view(sort_now=True)
    qtbot.wait(50)
    full = panel.gl.canvas.render(alpha=False)[..., :3].astype(np.float32) / 255
    panel.gl.splats.scale = 0.5
    half = panel.gl.canvas.render(alpha=False)[..., :3].astype(np.float32) / 255
    panel.gl.splats.scale = 1.0
    assert half.shape == full.shape and half.mean() > 0.05
    assert 30.0 <= psnr(full, half) < 100.0  # the same picture (point sprites, upscaled from a quarter of the pixels)
    # the radius clamp shrinks only the splats beyond it, keeping their shape
    f = panel._last_frame
    import copy

    g = clamp_radius(copy.copy(f), 4.0)
    ext = np.sqrt(np.maximum((g.axes[:, :2] ** 2).sum(1), (g.axes[:, 2:] ** 2).sum(1)))
    assert ext.max() <= 4.0 + 1e-3
    small = np.sqrt(np.maximum((f.axes[:, :2] ** 2).sum(1), (f.axes[:, 2:] ** 2).sum(1))) <= 4.0
    assert np.array_equal(g.axes[small], f.axes[small])
