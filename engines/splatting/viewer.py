"""Support for a live splat viewer (Qt-free): per-splat arrays for a GL rasteriser, view sorting with S² reuse, camera control.

A GL viewer draws each Gaussian as a screen-space ellipse, back to front, with the EWA covariance of
:func:`rasterizer.project` computed in its vertex shader; what it needs from the engine is the activated
scene (centres, 3D covariances, opacities), colours for a view (SH), and a back-to-front order. S²
applies here too: :class:`ViewSorter` reuses the last order for ``window`` requests unless the view
turned or moved past the thresholds: the engine's own rule (:class:`sort_sharing.ResortRule`), with the
Config's ``s2_window``, ``s2_max_angle_deg`` and ``s2_max_translation``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .camera import Camera, look_at
from .rasterizer import quat_scale_to_cov
from .scene import Scene
from .sh import eval_sh
from .sort_sharing import ResortRule


def gl_arrays(scene: Scene) -> dict[str, np.ndarray]:
    """float32 per-splat arrays: ``center`` (N, 3), ``cov_a`` (xx, xy, xz), ``cov_b`` (yy, yz, zz), ``opacity`` (N,)."""
    q = torch.as_tensor(scene.quats, dtype=torch.float64)
    s = torch.exp(torch.as_tensor(scene.log_scales, dtype=torch.float64))
    cov = quat_scale_to_cov(q, s).numpy()
    return dict(center=np.ascontiguousarray(scene.means, dtype=np.float32),
                cov_a=np.stack([cov[:, 0, 0], cov[:, 0, 1], cov[:, 0, 2]], 1).astype(np.float32),
                cov_b=np.stack([cov[:, 1, 1], cov[:, 1, 2], cov[:, 2, 2]], 1).astype(np.float32),
                opacity=scene.opacity.astype(np.float32))


@dataclass
class SortResult:
    order: np.ndarray  # back-to-front splat indices (uint32), in front of the near plane only
    colors: np.ndarray | None  # (N, 3) float32 for this view, or None when unchanged
    reused: bool
    sort_ms: float
    depth_range: tuple[float, float]


class ViewSorter:
    """Back-to-front order and SH colours for a view; with a :class:`ResortRule` the last sort is shared until it says re-sort."""

    def __init__(self, scene: Scene, sh_degree: int = 3, near: float = 0.2):
        self.scene, self.near = scene, near
        self.arrays = gl_arrays(scene)  # what a GL rasteriser uploads once per scene
        self.margin = 0.3
        self._radius = np.exp(scene.log_scales.max(axis=1)).astype(np.float32)
        self._colors = np.full((scene.n, 3), 0.5, np.float32)
        self.sh = torch.as_tensor(scene.sh, dtype=torch.float32)
        self.means = torch.as_tensor(scene.means, dtype=torch.float32)
        self.sh_degree = min(sh_degree, scene.sh_degree)
        self._ref: Camera | None = None
        self._age = 0
        self._last: SortResult | None = None
        self._colors_degree = -1

    @property
    def current_colors(self) -> np.ndarray:
        """(N, 3) float32: the colours of the last view sorted (0.5 grey before the first)."""
        return self._colors

    @property
    def view_dependent(self) -> bool:
        return self.sh_degree > 0

    def set_sh_degree(self, degree: int) -> None:
        self.sh_degree = min(degree, self.scene.sh_degree)
        self._ref = None

    def colors(self, cam: Camera) -> np.ndarray:
        """SH colour + 0.5 (clamped at 0) for the direction from the camera centre to each splat."""
        d = self.means - torch.as_tensor(cam.position, dtype=torch.float32)
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (eval_sh(self.sh, d, self.sh_degree) + 0.5).clamp_min(0.0).numpy()

    def sort(self, cam: Camera, rule: ResortRule | None = None) -> SortResult:
        """The back-to-front order for ``cam``: shared from the last sort while ``rule`` allows it (None: S² off)."""
        t0 = time.perf_counter()
        if rule is not None and self._last is not None and not rule.reason(self._ref, cam, self._age):
            self._age += 1
            return SortResult(self._last.order, None, True, 1000 * (time.perf_counter() - t0), self._last.depth_range)
        R, t = cam.viewmat[:3, :3].astype(np.float32), cam.viewmat[:3, 3].astype(np.float32)
        p = self.scene.means @ R.T + t
        z = p[:, 2]
        # the shared set: in front of the near plane and inside a frustum widened by `margin` of the half-angles (S²'s wider
        # field of view), plus every splat big enough to reach into the view from outside it
        zs = np.maximum(z, self.near)
        big = 3.0 * self._radius / zs
        limx, limy = (1 + self.margin) * 0.5 * cam.width / cam.fx, (1 + self.margin) * 0.5 * cam.height / cam.fy
        inside = (np.abs(p[:, 0] / zs) <= limx + big) & (np.abs(p[:, 1] / zs) <= limy + big)
        vis = np.nonzero((z > self.near) & inside)[0]
        order = vis[np.argsort(-z[vis])].astype(np.uint32)
        colors = self.colors(cam).astype(np.float32) if (self.view_dependent or self._colors_degree != self.sh_degree) else None
        self._colors_degree = self.sh_degree
        zr = (float(np.percentile(z[vis], 2)), float(np.percentile(z[vis], 98))) if vis.size else (0.0, 1.0)
        res = SortResult(order, colors, False, 1000 * (time.perf_counter() - t0), zr)
        self._last, self._ref, self._age = res, cam, 1
        if colors is not None:
            self._colors = colors
        return res

    def view(self, cam: Camera, rule: ResortRule | None = None) -> tuple[SortResult, np.ndarray | None]:
        """The (possibly shared) back-to-front order for ``cam`` and the splat colours when they changed (else None).

        S² shares the order, never the shading: with view-dependent colour (SH degree > 0) they are re-evaluated
        for every view.
        """
        res = self.sort(cam, rule)
        if res.reused and self.view_dependent:
            self._colors = self.colors(cam).astype(np.float32)
            return res, self._colors
        return res, res.colors


# ---- camera control ------------------------------------------------------------------------------------
@dataclass
class OrbitControl:
    """An orbit camera (target, azimuth, elevation, distance about ``up``) with a fly mode (position, yaw, pitch)."""

    target: np.ndarray
    azimuth: float
    elevation: float
    distance: float
    up: np.ndarray

    def _basis(self):
        up = self.up / np.linalg.norm(self.up)
        a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
        a /= np.linalg.norm(a)
        return up, a, np.cross(up, a)

    def eye(self) -> np.ndarray:
        up, a, b = self._basis()
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        return self.target + self.distance * (math.cos(el) * (math.cos(az) * a + math.sin(az) * b) + math.sin(el) * up)

    def viewmat(self) -> np.ndarray:
        return look_at(self.eye(), self.target, self.up)

    @classmethod
    def from_camera(cls, cam: Camera, target: np.ndarray, up) -> OrbitControl:
        """The orbit that reproduces ``cam``'s position around ``target``."""
        o = cls(np.asarray(target, float), 0.0, 0.0, 1.0, np.asarray(up, float))
        up_, a, b = o._basis()
        off = cam.position - o.target
        o.distance = float(np.linalg.norm(off))
        o.elevation = math.degrees(math.asin(np.clip(off @ up_ / max(o.distance, 1e-12), -1, 1)))
        o.azimuth = math.degrees(math.atan2(off @ b, off @ a))
        return o

    def orbit(self, d_az: float, d_el: float) -> None:
        self.azimuth += d_az
        self.elevation = float(np.clip(self.elevation + d_el, -89.0, 89.0))

    def zoom(self, factor: float) -> None:
        self.distance = float(np.clip(self.distance * factor, 1e-3, 1e6))

    def fly(self, forward: float, right: float) -> None:
        """Move eye and target together along the view direction and its right vector (fly mode)."""
        vm = self.viewmat()
        self.target = self.target + forward * vm[2, :3] + right * vm[0, :3]

    def look(self, d_az: float, d_el: float) -> None:
        """Turn the view about the eye (fly mode): the target moves, the eye stays."""
        eye = self.eye()
        self.orbit(d_az, d_el)
        # keep the eye where it was: the target moves opposite to the new offset
        self.target = eye - (self.eye() - self.target)

    def recentre(self, point: np.ndarray) -> None:
        """Orbit about ``point`` from the same eye."""
        eye = self.eye()
        self.target = np.asarray(point, float)
        off = eye - self.target
        up_, a, b = self._basis()
        self.distance = float(max(np.linalg.norm(off), 1e-3))
        self.elevation = math.degrees(math.asin(np.clip(off @ up_ / self.distance, -1, 1)))
        self.azimuth = math.degrees(math.atan2(off @ b, off @ a))


def pick_depth(scene: Scene, cam: Camera, x: float, y: float, radius_px: float = 6.0) -> np.ndarray | None:
    """The world point under pixel (x, y): the nearest splat centre projecting within ``radius_px`` (None if none)."""
    R, t = cam.viewmat[:3, :3], cam.viewmat[:3, 3]
    p = scene.means @ R.T + t
    ok = p[:, 2] > 0.2
    u = cam.fx * p[:, 0] / np.where(ok, p[:, 2], 1) + cam.cx
    v = cam.fy * p[:, 1] / np.where(ok, p[:, 2], 1) + cam.cy
    near = ok & ((u - x) ** 2 + (v - y) ** 2 <= radius_px**2)
    if not near.any():
        return None
    i = np.nonzero(near)[0]
    return scene.means[i[np.argmin(p[i, 2])]].astype(float)
