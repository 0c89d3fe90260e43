"""Camera paths for a scene: where its centre is, how far to stand, the configured path, the first camera."""

from __future__ import annotations

import numpy as np

from .camera import Camera, fly_path, interpolate_path, orbit_path, parse_pose
from .config import Config
from .scene import Scene, procedural_cameras


def scene_frame(scene: Scene) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Centre, orbit radius, height above the centre and up vector for generated paths.

    With cameras: the point nearest to all their optical axes (least squares), their mean distance and
    height; the procedural scene has its own; otherwise the median and the spread of the means.
    """
    up = np.asarray(scene.up, float)
    if scene.name == "procedural" and not scene.cameras:
        return np.array([0.0, 0.0, 0.7]), 6.5, 2.0, up
    if scene.cameras:
        A, bvec = np.zeros((3, 3)), np.zeros(3)
        for c in scene.cameras:
            d = c.forward / np.linalg.norm(c.forward)
            P = np.eye(3) - np.outer(d, d)
            A += P
            bvec += P @ c.position
        center = np.linalg.lstsq(A, bvec, rcond=None)[0]
        offs = np.array([c.position - center for c in scene.cameras])
        h = float(np.mean(offs @ up))
        r = float(np.mean(np.linalg.norm(offs - np.outer(offs @ up, up), axis=1)))
        return center, max(r, 1e-3), h, up
    center = np.median(scene.means, axis=0).astype(float)
    spread = float(np.percentile(np.linalg.norm(scene.means - center, axis=1), 90))
    return center, 2.0 * spread, 0.4 * spread, up


def path_cameras(cfg: Config, scene: Scene) -> list[Camera]:
    """The configured camera path at the configured resolution."""
    W, H = cfg.width, cfg.height
    if cfg.path == "pose":
        return [parse_pose(cfg.camera_pose, W, H, cfg.fov_deg)] * cfg.frames
    if cfg.path == "cameras":
        cams = scene.cameras or procedural_cameras(W, H, cfg.fov_deg)
        return interpolate_path([c.resized(W, H) for c in cams], cfg.frames)
    center, radius, height, up = scene_frame(scene)
    if cfg.path == "orbit":
        start = 0.0
        if scene.cameras:  # start where the first real camera is
            off = scene.cameras[0].position - center
            a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
            a /= np.linalg.norm(a)
            start = float(np.degrees(np.arctan2(off @ np.cross(up, a), off @ a)))
        elif scene.name == "procedural":
            start = -90.0
        return orbit_path(center, radius, height, cfg.frames, cfg.path_degrees, W, H, cfg.fov_deg, start_deg=start, up=up)
    # fly-through: from the orbit's start point towards the centre, covering 40% of the way
    if scene.cameras:
        eye = scene.cameras[0].position
    else:
        eye = center + np.array([0.0, -radius, 0.0]) + 0.3 * height * up
    d = center - eye
    heading = float(np.degrees(np.arctan2(d[1], d[0])))
    return fly_path(eye, heading, 0.4 * float(np.linalg.norm(d[:2])), cfg.frames, cfg.path_degrees, W, H, cfg.fov_deg, up=up)


def default_camera(config: Config, scene: Scene) -> Camera:
    """The first camera of the configured path."""
    return path_cameras(config.replace(frames=1), scene)[0]
