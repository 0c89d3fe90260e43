"""Support for a live splat viewer (Qt-free): per-splat arrays for a GL rasteriser, view sorting with S² reuse, camera control.

A GL viewer draws each Gaussian as a screen-space ellipse, back to front, with the EWA covariance of
:func:`rasterizer.project` computed in its vertex shader; what it needs from the engine is the activated
scene (centres, 3D covariances, opacities), colours for a view (SH), and a back-to-front order. S²
applies here too: :class:`ViewSorter` reuses the last order for ``window`` requests unless the view
turned or moved past the thresholds.
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


@dataclass
class ScreenSplats:
    """One frame's splats in screen space, back to front: centre, the two ellipse half-axes out to α = 1/255, RGBA."""

    mean2d: np.ndarray  # (n, 2) pixels
    axes: np.ndarray  # (n, 4): r√λ₁ e₁, r√λ₂ e₂
    rgba: np.ndarray  # (n, 4)
    sort: SortResult
    project_ms: float


def screen_splats(arrays: dict, colors: np.ndarray, order: np.ndarray, cam: Camera, splat_scale: float = 1.0, near: float = 0.2,
                  mode: str = "rgb", depth_range=(0.5, 10.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project the splats ``order`` for ``cam`` (the EWA covariance of the exact rasteriser, vectorised in numpy).

    Σ' = J W Σ Wᵀ Jᵀ + 0.3 I; the quad spans r = √(2 ln(255 o)) standard deviations along each eigenvector,
    where α falls to 1/255. Splats behind the near plane or whose quad misses the image are dropped.
    """
    R = cam.viewmat[:3, :3].astype(np.float32)
    t = cam.viewmat[:3, 3].astype(np.float32)
    p = arrays["center"][order] @ R.T + t
    z = p[:, 2]
    ok = z > near
    zs = np.where(ok, z, 1.0).astype(np.float32)
    limx, limy = 1.3 * 0.5 * cam.width / cam.fx, 1.3 * 0.5 * cam.height / cam.fy
    tx = np.clip(p[:, 0] / zs, -limx, limx) * zs
    ty = np.clip(p[:, 1] / zs, -limy, limy) * zs
    # T = J W: rows (fx/z) W₀ - (fx tx / z²) W₂ and (fy/z) W₁ - (fy ty / z²) W₂
    T0 = (cam.fx / zs)[:, None] * R[0] - (cam.fx * tx / zs**2)[:, None] * R[2]
    T1 = (cam.fy / zs)[:, None] * R[1] - (cam.fy * ty / zs**2)[:, None] * R[2]
    ca, cb = arrays["cov_a"][order], arrays["cov_b"][order]
    s2 = np.float32(splat_scale**2)

    def sig(v):  # Σ v for symmetric Σ = [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]
        return np.stack([ca[:, 0] * v[:, 0] + ca[:, 1] * v[:, 1] + ca[:, 2] * v[:, 2],
                         ca[:, 1] * v[:, 0] + cb[:, 0] * v[:, 1] + cb[:, 1] * v[:, 2],
                         ca[:, 2] * v[:, 0] + cb[:, 1] * v[:, 1] + cb[:, 2] * v[:, 2]], 1) * s2

    s0, s1 = sig(T0), sig(T1)
    a = np.einsum("ij,ij->i", T0, s0) + 0.3
    b = np.einsum("ij,ij->i", T0, s1)
    c = np.einsum("ij,ij->i", T1, s1) + 0.3
    mid = 0.5 * (a + c)
    d = np.sqrt(np.maximum(mid * mid - (a * c - b * b), 0.0))
    l1, l2 = mid + d, np.maximum(mid - d, 1e-6)
    e = np.stack([b, l1 - a], 1)
    en = np.linalg.norm(e, axis=1, keepdims=True)
    e = np.where(en > 1e-9, e / np.maximum(en, 1e-12), np.where((a >= c)[:, None], [1.0, 0.0], [0.0, 1.0])).astype(np.float32)
    o = arrays["opacity"][order]
    r = np.sqrt(2.0 * np.log(np.maximum(255.0 * o, 1.0)))
    ax1 = (r * np.sqrt(l1))[:, None] * e
    ax2 = (r * np.sqrt(l2))[:, None] * np.stack([-e[:, 1], e[:, 0]], 1)
    u = cam.fx * p[:, 0] / zs + cam.cx
    v = cam.fy * p[:, 1] / zs + cam.cy
    ext = r * np.sqrt(l1)
    ok &= (o * 255.0 > 1.0) & (u + ext > 0) & (u - ext < cam.width) & (v + ext > 0) & (v - ext < cam.height)
    if mode == "depth":
        sd = np.clip((z - depth_range[0]) / max(depth_range[1] - depth_range[0], 1e-6), 0, 1)
        rgb = np.stack([1 - sd, 0.35 + 0.4 * (1 - np.abs(2 * sd - 1)), sd], 1)
    elif mode == "alpha":
        rgb = np.ones((len(order), 3), np.float32)
    else:
        rgb = colors[order]
    keep = np.nonzero(ok)[0]
    return (np.stack([u, v], 1)[keep].astype(np.float32), np.concatenate([ax1, ax2], 1)[keep].astype(np.float32),
            np.concatenate([rgb, o[:, None]], 1)[keep].astype(np.float32))


class ViewSorter:
    """Back-to-front order and SH colours for a view; with ``s2`` the last sort is shared until the view moves past thresholds."""

    def __init__(self, scene: Scene, sh_degree: int = 3, near: float = 0.2):
        self.scene, self.near = scene, near
        self.arrays = gl_arrays(scene)
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

    def sort(self, cam: Camera, s2: bool = True, window: int = 6, max_angle_deg: float = 5.0, max_translation: float = 0.5) -> SortResult:
        t0 = time.perf_counter()
        if s2 and self._last is not None and self._ref is not None and self._age < window:
            ang = math.degrees(math.acos(max(-1.0, min(1.0, (np.trace(cam.rotation @ self._ref.rotation.T) - 1) / 2))))
            if ang <= max_angle_deg and np.linalg.norm(cam.position - self._ref.position) <= max_translation:
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
        order = vis[np.argsort(-z[vis], kind="stable")].astype(np.uint32)
        colors = self.colors(cam).astype(np.float32) if (self.view_dependent or self._colors_degree != self.sh_degree) else None
        self._colors_degree = self.sh_degree
        zr = (float(np.percentile(z[vis], 2)), float(np.percentile(z[vis], 98))) if vis.size else (0.0, 1.0)
        res = SortResult(order, colors, False, 1000 * (time.perf_counter() - t0), zr)
        self._last, self._ref, self._age = res, cam, 1
        if colors is not None:
            self._colors = colors
        return res

    def frame(self, cam: Camera, s2: bool = True, window: int = 6, splat_scale: float = 1.0, mode: str = "rgb",
              max_angle_deg: float = 5.0, max_translation: float = 0.5) -> ScreenSplats:
        """One viewer frame: the (possibly shared) back-to-front order, re-projected and re-coloured for this view."""
        res = self.sort(cam, s2, window, max_angle_deg, max_translation)
        t0 = time.perf_counter()
        if res.reused and self.view_dependent:  # S² shares the order, never the shading
            self._colors = self.colors(cam).astype(np.float32)
        m2, axes, rgba = screen_splats(self.arrays, self._colors, res.order, cam, splat_scale, self.near, mode, res.depth_range)
        return ScreenSplats(m2, axes, rgba, res, 1000 * (time.perf_counter() - t0))


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
