"""Gaussian scenes as stored by 3DGS (raw parameters) and their activations; the procedural and garden scenes.

Stored form (as in a trained 3DGS .ply): means, SH coefficients ``sh[:, k, c]`` (k = 0 is the DC band), opacity
as a logit, scales as logs, rotation quaternion w-first and unnormalised. Activations: opacity = sigmoid(logit),
scale = exp(log), q / |q|, colour = SH(direction) + 0.5 clamped at 0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from engines.recorded import resource_dir

from .camera import Camera, intrinsics_for, look_at
from .sh import C0 as SH_C0

GARDEN_FILE = resource_dir("splatting") / "garden_points.npz"  # Apache-2.0, see resources/splatting/README.md


def sh_degree_for(coeffs: int) -> int:
    """SH degree d from the number of coefficients per channel, (d + 1)²."""
    for d in range(4):
        if (d + 1) ** 2 == coeffs:
            return d
    raise ValueError(f"sh: {coeffs} coefficients per channel is not (d+1)^2 for d in 0..3")


@dataclass
class Scene:
    """N Gaussians in stored (pre-activation) form plus optional cameras."""

    means: np.ndarray  # (N, 3) float32
    sh: np.ndarray  # (N, (d+1)^2, 3) float32
    opacity_logit: np.ndarray  # (N,)
    log_scales: np.ndarray  # (N, 3)
    quats: np.ndarray  # (N, 4) w, x, y, z
    normals: np.ndarray | None = None  # (N, 3), carried through .ply files
    cameras: list[Camera] = field(default_factory=list)
    name: str = "scene"
    up: tuple = (0.0, 0.0, 1.0)
    source: str = ""  # the file it was read from ("" for a generated scene)
    cameras_source: str = ""  # the cameras.json its cameras came from ("" when none was found)

    def __post_init__(self):
        n = len(self.means)
        shapes = {"means": (n, 3), "opacity_logit": (n,), "log_scales": (n, 3), "quats": (n, 4)}
        for k, shp in shapes.items():
            if getattr(self, k).shape != shp:
                raise ValueError(f"{k}: shape {getattr(self, k).shape}, expected {shp}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"sh: shape {self.sh.shape}, expected ({n}, (d+1)^2, 3)")
        sh_degree_for(self.sh.shape[1])

    @property
    def n(self) -> int:
        return len(self.means)

    @property
    def sh_degree(self) -> int:
        return sh_degree_for(self.sh.shape[1])

    # ---- activations ------------------------------------------------------------------------------
    @property
    def opacity(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.opacity_logit.astype(np.float64)))

    @property
    def scales(self) -> np.ndarray:
        return np.exp(self.log_scales.astype(np.float64))

    @property
    def rotations(self) -> np.ndarray:
        q = self.quats.astype(np.float64)
        return q / np.linalg.norm(q, axis=1, keepdims=True)

    def base_colors(self) -> np.ndarray:
        """View-independent colour of the DC band: C0 * f_dc + 0.5, clamped at 0."""
        return np.maximum(SH_C0 * self.sh[:, 0, :].astype(np.float64) + 0.5, 0.0)

    def center(self) -> np.ndarray:
        return np.median(self.means, axis=0)


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


# ---- procedural scene ------------------------------------------------------------------------------
def procedural_scene(n: int = 30000, seed: int = 0) -> Scene:
    """A small deterministic world: a checkered floor, three objects with view-dependent colour, a backdrop.

    The glossy sphere carries degree-1..3 SH terms that brighten it towards a fixed 'light' direction,
    so orbiting the scene changes its colour (the view dependence S² must re-shade every frame).
    """
    rng = np.random.default_rng(seed)
    n_floor, n_back = int(0.40 * n), int(0.18 * n)
    n_obj = n - n_floor - n_back
    n_sph, n_tor = int(0.42 * n_obj), int(0.33 * n_obj)
    n_box = n_obj - n_sph - n_tor
    parts = []

    def add(means, rgb, scale, flat_normal=None, opacity=0.9, gloss=None):
        m = len(means)
        s = np.broadcast_to(np.asarray(scale, float), (m, 3)).copy() if np.ndim(scale) < 2 else np.asarray(scale, float)
        q = rng.normal(size=(m, 4))
        if flat_normal is not None:  # thin discs lying in the surface: rotate z onto the normal
            q = _quats_z_to(flat_normal)
            s[:, 2] *= 0.15
        sh = np.zeros((m, 16, 3))
        sh[:, 0, :] = (np.clip(rgb, 0, 1) - 0.5) / SH_C0
        if gloss is not None:
            sh[:, 1:, :] = gloss
        op = np.broadcast_to(np.asarray(opacity, float), (m,))
        parts.append((means, sh, _logit(op), np.log(s), q))

    # floor: a 6 x 6 checkerboard of flat discs on z = 0
    xy = rng.uniform(-3, 3, size=(n_floor, 2))
    chk = ((np.floor(xy[:, 0]) + np.floor(xy[:, 1])) % 2 == 0)[:, None]
    floor_rgb = np.where(chk, [0.82, 0.80, 0.74], [0.28, 0.30, 0.36]) + rng.normal(0, 0.02, (n_floor, 3))
    fs = 6.0 / np.sqrt(n_floor) * 0.9
    add(np.c_[xy, np.zeros(n_floor)], floor_rgb, [fs, fs, fs], flat_normal=np.tile([0, 0, 1.0], (n_floor, 1)), opacity=0.95)

    # glossy sphere: radius 0.8 at (-0.9, -0.4, 0.8), red with a specular lobe in SH
    d = rng.normal(size=(n_sph, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    ss = 0.8 * 3.2 / np.sqrt(n_sph)
    gloss = np.zeros((n_sph, 15, 3))
    light = np.array([0.4, -0.6, 0.7]) / np.linalg.norm([0.4, -0.6, 0.7])
    # degree-1 band (Y1: -C1 y, C1 z, -C1 x) aligned with the light: brighter seen from the lit side
    gloss[:, 0, :] = -light[1] * 0.9
    gloss[:, 1, :] = light[2] * 0.9
    gloss[:, 2, :] = -light[0] * 0.9
    gloss[:, 3:8, :] = rng.normal(0, 0.05, (n_sph, 5, 1)) * [1.0, 0.8, 0.5]
    gloss[:, 8:15, :] = rng.normal(0, 0.04, (n_sph, 7, 1))
    add(np.array([-0.9, -0.4, 0.8]) + 0.8 * d, np.tile([0.78, 0.14, 0.12], (n_sph, 1)), [ss, ss, ss], flat_normal=d, gloss=gloss)

    # torus: major 0.65, minor 0.22 standing at (1.0, 0.5, 0.9), teal, mildly view dependent
    u, v = rng.uniform(0, 2 * np.pi, (2, n_tor))
    ring = np.c_[np.cos(u), np.zeros(n_tor), np.sin(u)]
    tube = np.c_[np.cos(u) * np.cos(v), np.sin(v), np.sin(u) * np.cos(v)]
    pts = np.array([1.0, 0.5, 0.9]) + 0.65 * ring + 0.22 * tube
    ts = 0.55 * 3.0 / np.sqrt(n_tor)
    tg = np.zeros((n_tor, 15, 3))
    tg[:, 0:3, :] = np.array([0.25, -0.2, 0.3])[None, :, None] * [0.2, 1.0, 1.0]
    add(pts, np.tile([0.10, 0.62, 0.62], (n_tor, 1)) + rng.normal(0, 0.03, (n_tor, 3)), [ts, ts, ts], flat_normal=tube, gloss=tg)

    # box: 0.7 cube at (0.3, -1.4, 0.35), amber, faces made of flat discs
    face = rng.integers(0, 6, n_box)
    uv = rng.uniform(-0.35, 0.35, (n_box, 2))
    axis, sign = face // 2, np.where(face % 2 == 0, 1.0, -1.0)
    pts = np.zeros((n_box, 3))
    nrm = np.zeros((n_box, 3))
    for ax in range(3):  # three axes, not per element
        sel = axis == ax
        others = [i for i in range(3) if i != ax]
        pts[sel, ax] = 0.35 * sign[sel]
        pts[sel, others[0]] = uv[sel, 0]
        pts[sel, others[1]] = uv[sel, 1]
        nrm[sel, ax] = sign[sel]
    bs = 0.7 * 2.6 / np.sqrt(n_box / 6)
    shade = 0.75 + 0.25 * nrm @ light
    add(pts + [0.3, -1.4, 0.35], np.c_[0.95 * shade, 0.62 * shade, 0.16 * shade], [bs, bs, bs], flat_normal=nrm)

    # backdrop: a curved wall behind (y = 3.5 .. 4) with a vertical sky gradient
    a = rng.uniform(-1.1, 1.1, n_back)
    zz = rng.uniform(0.0, 3.5, n_back)
    pts = np.c_[5.0 * np.sin(a), 3.2 + 5.0 * (1 - np.cos(a)) * 0.4, zz]
    t = zz / 3.5
    rgb = np.c_[0.55 + 0.25 * t, 0.62 + 0.22 * t, 0.72 + 0.2 * t] * (0.9 + 0.1 * np.cos(3 * a))[:, None]
    bks = 2.4 * 3.5 / np.sqrt(n_back)
    add(pts, rgb, [bks * 1.3, bks, bks], flat_normal=np.c_[-np.sin(a), -np.ones(n_back) * 0.9, np.zeros(n_back)], opacity=0.97)

    means, sh, ol, ls, q = (np.concatenate([p[i] for p in parts]).astype(np.float32) for i in range(5))
    return Scene(means, sh, ol, ls, q, normals=np.zeros_like(means), name="procedural")


def _quats_z_to(normals: np.ndarray) -> np.ndarray:
    """Quaternions (w-first) rotating +z onto each normal: q = (1 + z·n, z × n), normalised."""
    nrm = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    w = 1.0 + nrm[:, 2]
    xyz = np.c_[-nrm[:, 1], nrm[:, 0], np.zeros(len(nrm))]
    q = np.c_[w, xyz]
    flip = w < 1e-6  # n = -z: rotate 180° about x
    q[flip] = [0.0, 1.0, 0.0, 0.0]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def up_from_cameras(cams: list[Camera]) -> tuple:
    """OpenCV cameras have y pointing down: "up" in the world is minus their mean y axis."""
    up = -np.mean([c.rotation[1] for c in cams], axis=0)
    return tuple(up / np.linalg.norm(up))


def procedural_cameras(width: int, height: int, fov_deg: float) -> list[Camera]:
    fx, fy, cx, cy = intrinsics_for(width, height, fov_deg)
    return [Camera(look_at([0.0, -6.0, 2.6], [0.0, 0.0, 0.7]), fx, fy, cx, cy, width, height)]


# ---- garden scene from real geometry -----------------------------------------------------------
@functools.lru_cache(maxsize=2)
def garden_scene(opacity: float = 0.7) -> Scene:
    """Splats from the Mip-NeRF 360 garden point cloud (``resources/splatting``), initialised as 3DGS does.

    Scale: isotropic, the mean distance to the 3 nearest neighbours; identity rotation; opacity 0.7;
    DC colour (rgb/255 - 0.5) / C0; higher SH bands zero. Cameras: the three real ones (648 x 420).
    """
    from scipy.spatial import cKDTree

    data = np.load(GARDEN_FILE)
    means = data["means3d"].astype(np.float32)
    rgb = data["colors"].astype(np.float64) / 255.0
    dist, _ = cKDTree(means).query(means, k=4)
    s = np.maximum(dist[:, 1:].mean(axis=1), 1e-7)
    n = len(means)
    sh = np.zeros((n, 1, 3), np.float32)
    sh[:, 0, :] = (rgb - 0.5) / SH_C0
    W, H = int(data["width"]), int(data["height"])
    cams = [Camera(data["viewmats"][i].astype(np.float64), *(float(v) for v in (data["Ks"][i][0, 0], data["Ks"][i][1, 1],
                                                                              data["Ks"][i][0, 2], data["Ks"][i][1, 2])), W, H)
            for i in range(len(data["viewmats"]))]
    return Scene(means, sh, np.full(n, _logit(opacity), np.float32), np.log(np.c_[s, s, s]).astype(np.float32),
                 np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)), normals=np.zeros_like(means), cameras=cams, name="garden",
                 up=up_from_cameras(cams))
