"""Camera paths for a scene: where its centre is, how far to stand, the configured path, a camera that frames it."""

from __future__ import annotations

import numpy as np

from .camera import Camera, fly_path, interpolate_path, orbit_path, parse_pose
from .config import Config
from .scene import Scene, procedural_cameras

CENTRAL = (10.0, 90.0)  # percentiles per axis that bound a scene without cameras (floaters and outliers fall outside)
FRAMING_ELEVATION_DEG = 20.0  # a camera that frames a scene without cameras looks down on it from this far above the horizon
FRAMING_MARGIN = 1.15  # ... from this much further than the distance at which the robust bounds' sphere just fits the view


def robust_bounds(scene: Scene) -> tuple[np.ndarray, float]:
    """Centre and radius of the central box of the splats: per axis the CENTRAL percentiles, radius its half-diagonal."""
    lo, hi = np.percentile(scene.means.astype(np.float64), CENTRAL, axis=0)
    return 0.5 * (lo + hi), max(0.5 * float(np.linalg.norm(hi - lo)), 1e-6)


def _axes_center(scene: Scene) -> np.ndarray | None:
    """The point nearest to all cameras' optical axes (least squares); None when the axes do not pin one down
    (one camera, or parallel axes)."""
    A, bvec = np.zeros((3, 3)), np.zeros(3)
    for c in scene.cameras:
        d = c.forward / np.linalg.norm(c.forward)
        P = np.eye(3) - np.outer(d, d)
        A += P
        bvec += P @ c.position
    if np.linalg.eigvalsh(A)[0] < 0.05 * len(scene.cameras):  # the axes are (nearly) parallel: no crossing point
        return None
    return np.linalg.lstsq(A, bvec, rcond=None)[0]


def _ahead_of(cam: Camera, scene: Scene) -> np.ndarray:
    """The point on ``cam``'s optical axis at the median depth of the splats in front of it (the robust centre's depth if none)."""
    z = (scene.means.astype(np.float64) - cam.position) @ cam.forward
    z = z[z > 0]
    depth = float(np.median(z)) if z.size else float(np.linalg.norm(robust_bounds(scene)[0] - cam.position))
    return cam.position + max(depth, 1e-3) * cam.forward


def scene_frame(scene: Scene, fov_deg: float = 60.0, width: int = 16, height: int = 10) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Centre, orbit radius, height above the centre and up vector for generated paths.

    With cameras: the point nearest to all their optical axes (least squares; with one camera or parallel axes,
    the point on the first camera's axis at the splats' median depth), their mean distance and height. The
    procedural scene has its own. Without cameras: the centre of the splats' robust bounds (:func:`robust_bounds`),
    seen from FRAMING_ELEVATION_DEG above, FRAMING_MARGIN times as far as the bounds' sphere just fits the
    narrower half field of view of a ``width`` × ``height`` image with horizontal field of view ``fov_deg``.
    """
    up = np.asarray(scene.up, float)
    if scene.name == "procedural" and not scene.cameras:
        return np.array([0.0, 0.0, 0.7]), 6.5, 2.0, up
    if scene.cameras:
        center = _axes_center(scene)
        if center is None:
            center = _ahead_of(scene.cameras[0], scene)
        offs = np.array([c.position - center for c in scene.cameras])
        h = float(np.mean(offs @ up))
        r = float(np.mean(np.linalg.norm(offs - np.outer(offs @ up, up), axis=1)))
        return center, max(r, 1e-3), h, up
    center, radius = robust_bounds(scene)
    half_x = np.radians(fov_deg) / 2
    half = min(half_x, float(np.arctan(np.tan(half_x) * height / width)))
    dist = FRAMING_MARGIN * radius / np.sin(half)
    el = np.radians(FRAMING_ELEVATION_DEG)
    return center, dist * np.cos(el), dist * np.sin(el), up


def framing_camera(scene: Scene, width: int, height: int, fov_deg: float) -> tuple[Camera, np.ndarray]:
    """A camera that frames the scene, and the point it looks at (what a viewer orbits about).

    With cameras: the first one (its field of view, at ``width`` × ``height``), looking at the point of its optical axis
    nearest the scene's centre. Without: the first camera of the orbit about the robust bounds (:func:`scene_frame`).
    """
    if scene.cameras:
        c = scene.cameras[0]
        fx = c.fx * width / c.width
        cam = Camera(c.viewmat, fx, fx * c.fy / c.fx, width / 2, height / 2, width, height)
        center = scene_frame(scene, fov_deg, width, height)[0]
        depth = float((center - c.position) @ c.forward)
        target = c.position + depth * c.forward if depth > 1e-6 else _ahead_of(c, scene)
        return cam, target
    center, radius, h, up = scene_frame(scene, fov_deg, width, height)
    start = -90.0 if scene.name == "procedural" else 0.0
    return orbit_path(center, radius, h, 1, 0.0, width, height, fov_deg, start_deg=start, up=up)[0], center


def path_cameras(cfg: Config, scene: Scene) -> list[Camera]:
    """The configured camera path at the configured resolution."""
    W, H = cfg.width, cfg.height
    if cfg.path == "pose":
        return [parse_pose(cfg.camera_pose, W, H, cfg.fov_deg)] * cfg.frames
    if cfg.path == "cameras":
        cams = scene.cameras or procedural_cameras(W, H, cfg.fov_deg)
        return interpolate_path([c.resized(W, H) for c in cams], cfg.frames)
    center, radius, height, up = scene_frame(scene, cfg.fov_deg, W, H)
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
