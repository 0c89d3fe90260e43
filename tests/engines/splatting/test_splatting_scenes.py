"""Scenes and camera paths: the procedural scene is deterministic, the garden follows its README recipe, paths behave."""

from __future__ import annotations

import numpy as np
import pytest

from engines.splatting import Config
from engines.splatting.camera import Camera, angle_between_deg, format_pose, interpolate_path, look_at, parse_pose
from engines.splatting.paths import path_cameras, scene_frame
from engines.splatting.scene import GARDEN_FILE, SH_C0, procedural_scene


def test_procedural_scene_is_deterministic_and_seeded():
    a, b, c = procedural_scene(4000, seed=7), procedural_scene(4000, seed=7), procedural_scene(4000, seed=8)
    assert a.n == 4000 and a.sh_degree == 3
    assert np.array_equal(a.means, b.means) and np.array_equal(a.sh, b.sh)
    assert not np.array_equal(a.means, c.means)
    assert np.isfinite(a.sh).all() and (np.abs(a.sh[:, 1:]).max() > 0)  # view-dependent colour present


def test_garden_scene_follows_the_readme_recipe():
    from engines.splatting import garden_scene

    s = garden_scene()
    d = np.load(GARDEN_FILE)
    assert s.n == len(d["means3d"]) and s.sh_degree == 0
    assert np.allclose(s.opacity, 0.7, atol=1e-6)
    assert np.allclose(s.rotations, [1, 0, 0, 0])
    i = np.array([0, 1000, 77777])
    rgb = d["colors"][i] / 255.0
    assert np.allclose(s.sh[i, 0], (rgb - 0.5) / SH_C0, atol=1e-5)
    # scale: mean distance to the 3 nearest neighbours, by brute force for a few points
    p = d["means3d"].astype(np.float64)
    for j in i:
        dist = np.sort(np.linalg.norm(p - p[j], axis=1))[1:4].mean()
        assert np.allclose(s.scales[j], dist, rtol=1e-4)
    assert len(s.cameras) == 3 and s.cameras[0].width == 648 and s.cameras[0].height == 420


def test_orbit_path_keeps_its_distance_and_turns_the_configured_angle():
    cfg = Config(frames=5, path="orbit", path_degrees=40.0, width=64, height=40)
    scene = procedural_scene(1000)
    cams = path_cameras(cfg, scene)
    center, radius, height, _ = scene_frame(scene)
    dist = [np.linalg.norm(c.position - center) for c in cams]
    assert np.allclose(dist, np.hypot(radius, height))
    assert angle_between_deg(cams[0], cams[-1]) == pytest.approx(40.0, abs=1.0)


def test_interpolated_path_passes_through_its_cameras_and_pose_text_round_trips():
    a = Camera(look_at([0, -5, 1], [0, 0, 0]), 100, 100, 32, 20, 64, 40)
    b = Camera(look_at([5, 0, 2], [0, 0, 0]), 100, 100, 32, 20, 64, 40)
    path = interpolate_path([a, b], 5)
    assert np.allclose(path[0].viewmat, a.viewmat) and np.allclose(path[-1].viewmat, b.viewmat)
    back = parse_pose(format_pose(a), 64, 40, 60.0)
    assert np.allclose(back.viewmat, a.viewmat) and back.fx == a.fx


def test_config_refuses_inconsistent_fields():
    with pytest.raises(ValueError, match="scene_path"):
        Config(scene="file")
    with pytest.raises(ValueError, match="camera_pose"):
        Config(path="pose", camera_pose="1,2,3")
    with pytest.raises(ValueError, match="rc_k"):
        Config(rc_k=0)


def _moved_with_floaters(offset=(4000.0, -2500.0, 900.0), floaters=0.12):
    s = procedural_scene(4000, seed=3)
    rng = np.random.default_rng(0)
    m = s.means.astype(np.float64) + offset
    k = int(floaters * s.n)
    if k:
        d = rng.normal(size=(k, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        m[:k] = m[:k].mean(0) + d * rng.uniform(200, 600, (k, 1))
    s.means, s.name = m.astype(np.float32), "moved"
    return s


def test_a_scene_without_cameras_is_framed_by_its_robust_bounds():
    from engines.splatting import framing_camera, robust_bounds

    s = _moved_with_floaters()
    core = procedural_scene(4000, seed=3).means.astype(np.float64) + (4000.0, -2500.0, 900.0)
    centre, radius = robust_bounds(s)
    clo, chi = np.percentile(core, (10, 90), axis=0)
    core_radius = 0.5 * np.linalg.norm(chi - clo)
    # the floaters (200 to 600 units away) hardly move the bounds: the centre stays inside the core's, the radius near its
    assert ((centre > clo) & (centre < chi)).all() and 0.8 * core_radius < radius < 1.5 * core_radius
    cam, target = framing_camera(s, 160, 100, 60.0)
    assert np.allclose(target, centre)
    # every corner of the central box is inside the image, and the box's sphere fills a good part of it
    lo, hi = np.percentile(s.means, (10, 90), axis=0)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    p = corners @ cam.viewmat[:3, :3].T + cam.viewmat[:3, 3]
    u, v = cam.fx * p[:, 0] / p[:, 2] + cam.cx, cam.fy * p[:, 1] / p[:, 2] + cam.cy
    assert (p[:, 2] > 0).all() and (u > 0).all() and (u < 160).all() and (v > 0).all() and (v < 100).all()
    assert np.ptp(u) > 0.4 * 160 or np.ptp(v) > 0.4 * 100


def test_a_scene_with_one_camera_starts_at_it_and_cameras_json_is_found_beside_the_file(tmp_path):
    from engines.splatting import cameras_beside, framing_camera, load_scene, write_cameras_json, write_ply

    s = _moved_with_floaters(floaters=0.0)
    centre = np.median(s.means, axis=0)
    cam = Camera(look_at(centre + [1.0, -6.0, 2.0], centre), 250.0, 260.0, 160.0, 100.0, 320, 200)
    model = tmp_path / "model"
    (model / "point_cloud" / "iteration_30000").mkdir(parents=True)
    ply = write_ply(s, model / "point_cloud" / "iteration_30000" / "point_cloud.ply")
    assert cameras_beside(ply) is None and load_scene(ply).cameras == []
    write_cameras_json([cam], model / "cameras.json")  # 3DGS's output layout: cameras.json at the model's root
    assert cameras_beside(ply) == model / "cameras.json"
    loaded = load_scene(ply)
    assert len(loaded.cameras) == 1 and loaded.cameras_source == str(model / "cameras.json") and loaded.source == str(ply)
    framed, target = framing_camera(loaded, 640, 400, 60.0)
    assert np.allclose(framed.viewmat, cam.viewmat, atol=1e-9) and np.isclose(framed.fx, 500.0) and np.isclose(framed.fy, 520.0)
    # one camera pins no crossing point: the orbit centre is on its axis, at the splats' median depth
    center, radius, height, _ = scene_frame(loaded)
    off = center - cam.position
    assert np.allclose(np.cross(off / np.linalg.norm(off), cam.forward), 0, atol=1e-9)
    assert np.allclose(target, center, atol=1e-6)
    write_cameras_json([cam], tmp_path / "model" / "point_cloud" / "iteration_30000" / "cameras.json")  # beside the file wins
    assert cameras_beside(ply) == ply.parent / "cameras.json"
