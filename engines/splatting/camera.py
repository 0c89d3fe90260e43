"""Pinhole cameras (OpenCV axes: x right, y down, z forward) and camera paths (orbit, fly-through, interpolation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """A world-to-camera pose ``viewmat`` (4x4) with intrinsics; pixel (i, j) has its centre at (i + 0.5, j + 0.5)."""

    viewmat: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def rotation(self) -> np.ndarray:
        return self.viewmat[:3, :3]

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates: -Rᵀ t."""
        return -self.viewmat[:3, :3].T @ self.viewmat[:3, 3]

    @property
    def forward(self) -> np.ndarray:
        return self.viewmat[2, :3]

    def resized(self, width: int, height: int) -> Camera:
        """The same view at another resolution (intrinsics scaled with the image)."""
        sx, sy = width / self.width, height / self.height
        return Camera(self.viewmat, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)

    def with_pose(self, viewmat: np.ndarray) -> Camera:
        return Camera(np.asarray(viewmat, dtype=np.float64), self.fx, self.fy, self.cx, self.cy, self.width, self.height)


def intrinsics_for(width: int, height: int, fov_deg: float) -> tuple[float, float, float, float]:
    """fx = fy = (W/2) / tan(fov/2); principal point at the image centre."""
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    return f, f, width / 2, height / 2


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera matrix of a camera at ``eye`` looking at ``target`` (OpenCV: y down, z forward)."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    m = np.eye(4)
    m[:3, :3] = R
    m[:3, 3] = -R @ eye
    return m


def orbit_path(center, radius: float, height: float, frames: int, degrees: float, width: int, height_px: int, fov_deg: float,
               start_deg: float = 0.0, up=(0.0, 0.0, 1.0)) -> list[Camera]:
    """Cameras on a circle of ``radius`` around ``center`` (``height`` above it along ``up``), turning ``degrees`` in all."""
    center, up = np.asarray(center, float), np.asarray(up, float) / np.linalg.norm(up)
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    fx, fy, cx, cy = intrinsics_for(width, height_px, fov_deg)
    cams = []
    for i in range(frames):
        th = np.radians(start_deg + (degrees * i / max(frames - 1, 1) if frames > 1 else 0.0))
        eye = center + radius * (np.cos(th) * a + np.sin(th) * b) + height * up
        cams.append(Camera(look_at(eye, center, up), fx, fy, cx, cy, width, height_px))
    return cams


def fly_path(start, heading_deg: float, distance: float, frames: int, degrees: float, width: int, height_px: int, fov_deg: float,
             pitch_deg: float = -8.0, up=(0.0, 0.0, 1.0)) -> list[Camera]:
    """A fly-through: move ``distance`` forward from ``start`` while the heading turns ``degrees`` (z up)."""
    start = np.asarray(start, float)
    fx, fy, cx, cy = intrinsics_for(width, height_px, fov_deg)
    cams = []
    for i in range(frames):
        s = i / max(frames - 1, 1) if frames > 1 else 0.0
        h = np.radians(heading_deg + degrees * s)
        p = np.radians(pitch_deg)
        d = np.array([np.cos(h) * np.cos(p), np.sin(h) * np.cos(p), np.sin(p)])
        eye = start + distance * s * np.array([np.cos(np.radians(heading_deg)), np.sin(np.radians(heading_deg)), 0.0])
        cams.append(Camera(look_at(eye, eye + d, up), fx, fy, cx, cy, width, height_px))
    return cams


def _quat_from_matrix(R: np.ndarray) -> np.ndarray:
    w = np.sqrt(max(0.0, 1 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    x = np.copysign(np.sqrt(max(0.0, 1 + R[0, 0] - R[1, 1] - R[2, 2])) / 2, R[2, 1] - R[1, 2])
    y = np.copysign(np.sqrt(max(0.0, 1 - R[0, 0] + R[1, 1] - R[2, 2])) / 2, R[0, 2] - R[2, 0])
    z = np.copysign(np.sqrt(max(0.0, 1 - R[0, 0] - R[1, 1] + R[2, 2])) / 2, R[1, 0] - R[0, 1])
    q = np.array([w, x, y, z])
    return q / np.linalg.norm(q)


def _matrix_from_quat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    th = np.arccos(d)
    return (np.sin((1 - t) * th) * q0 + np.sin(t * th) * q1) / np.sin(th)


def interpolate_path(cameras: list[Camera], frames: int) -> list[Camera]:
    """``frames`` cameras moving through ``cameras`` in order: positions linear, rotations slerped, intrinsics of the first."""
    if len(cameras) == 1 or frames == 1:
        return [cameras[0]] * frames
    c0 = cameras[0]
    out = []
    for i in range(frames):
        s = (len(cameras) - 1) * i / (frames - 1)
        j = min(int(s), len(cameras) - 2)
        t = s - j
        a, b = cameras[j], cameras[j + 1]
        q = _slerp(_quat_from_matrix(a.rotation), _quat_from_matrix(b.rotation), t)
        R = _matrix_from_quat(q)
        pos = (1 - t) * a.position + t * b.position
        m = np.eye(4)
        m[:3, :3] = R
        m[:3, 3] = -R @ pos
        out.append(c0.with_pose(m))
    return out


def parse_pose(text: str, width: int, height: int, fov_deg: float) -> Camera:
    """A camera from ``camera_pose`` text: 12 numbers (world-to-camera 3x4, row-major), optionally then fx, fy."""
    nums = [float(v) for v in text.split(",")]
    m = np.eye(4)
    m[:3, :4] = np.asarray(nums[:12]).reshape(3, 4)
    fx, fy, cx, cy = intrinsics_for(width, height, fov_deg)
    if len(nums) == 14:
        fx, fy = nums[12], nums[13]
    return Camera(m, fx, fy, cx, cy, width, height)


def format_pose(cam: Camera) -> str:
    """The inverse of :func:`parse_pose`."""
    nums = list(cam.viewmat[:3, :4].reshape(-1)) + [cam.fx, cam.fy]
    return ",".join(f"{v:.9g}" for v in nums)


def angle_between_deg(a: Camera, b: Camera) -> float:
    """Rotation angle between two camera orientations: arccos((tr(R_a R_bᵀ) - 1) / 2)."""
    c = (np.trace(a.rotation @ b.rotation.T) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
