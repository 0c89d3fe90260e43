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
