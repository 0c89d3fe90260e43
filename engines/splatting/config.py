"""The splatting engine's Config: scene, camera path, exact renderer, S² (sort sharing) and RC (radiance caching).

The defaults are the panel's default job: three frames of a 6° orbit of the garden at 192×120, exact against S²+RC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engines.base import ConfigBase, param

METHODS = ("exact", "s2", "rc", "s2+rc")
METHOD_LABELS = {"exact": "exact", "s2": "S²", "rc": "RC", "s2+rc": "S²+RC"}
SCENES = ("garden", "procedural", "file")
PATHS = ("orbit", "fly", "cameras", "pose")
COMPACTION = ("tile", "pixel")
S2_GUARDS = ("off", "strict")
MAX_PIXEL_FRAMES = 2**23  # width × height × frames: ~8 M pixels, each rendered exactly and with the method
POSE_ALLOWED = "12 or 14 comma-separated finite numbers: a rotation (orthonormal rows, determinant +1) and translation, then fx,fy > 0"


def check_pose(text: str) -> None:
    """``camera_pose`` text: 12 numbers (world-to-camera 3x4, row-major), optionally fx, fy; ValueError naming the field."""
    try:
        nums = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"camera_pose: cannot read {text[:60]!r} as numbers (allowed: {POSE_ALLOWED})") from None
    if len(nums) not in (12, 14):
        raise ValueError(f"camera_pose: {len(nums)} numbers (allowed: {POSE_ALLOWED})")
    if not all(math.isfinite(v) and abs(v) <= 1e12 for v in nums):
        raise ValueError(f"camera_pose: a number is not finite or beyond ±1e12 (allowed: {POSE_ALLOWED})")
    R = np.asarray(nums[:12]).reshape(3, 4)[:, :3]
    if np.abs(R @ R.T - np.eye(3)).max() > 1e-4 or np.linalg.det(R) < 0:
        raise ValueError(f"camera_pose: the first three columns are not a rotation (allowed: {POSE_ALLOWED})")
    if len(nums) == 14 and not all(1e-6 <= f <= 1e7 for f in nums[12:]):
        raise ValueError(f"camera_pose: focal lengths {nums[12]:g}, {nums[13]:g} (allowed: fx, fy in [1e-06, 1e7] px)")


@dataclass(frozen=True)
class Config(ConfigBase):
    # ---- scene ------------------------------------------------------------------------------------
    scene: str = param("garden", "Scene: the garden (138,766 splats from the Mip-NeRF 360 garden points in resources/splatting, "
                       "initialised as 3DGS does), the generated procedural scene, or a .ply/.splat file (scene_path)",
                       choices=SCENES, group="Scene")
    scene_path: str = param("", "Path of a trained-3DGS .ply or antimatter15 .splat file (used when scene = file)", group="Scene",
                            gui=False)
    procedural_gaussians: int = param(30000, "Number of Gaussians in the procedural scene", lo=500, hi=400000, group="Scene")
    seed: int = param(0, "Seed of every random choice (procedural scene, path jitter)", lo=0, hi=2**31 - 1, group="Scene")
    sh_degree: int = param(3, "Highest spherical-harmonics band used for colour (capped by the scene's own degree)", lo=0, hi=3,
                           group="Scene")
    splat_scale: float = param(1.0, "Multiplier on every Gaussian's scale (1 = as stored)", lo=0.05, hi=4.0, group="Scene")
    # ---- camera path ------------------------------------------------------------------------------
    width: int = param(192, "Image width", unit="px", lo=16, hi=4096, group="Camera")
    height: int = param(120, "Image height", unit="px", lo=16, hi=4096, group="Camera")
    path: str = param("orbit", "Camera path: orbit around the scene, fly through it, interpolate the scene's own cameras, "
                      "or one fixed pose (camera_pose)", choices=PATHS, group="Camera")
    frames: int = param(3, "Frames on the camera path", lo=1, hi=2000, group="Camera")
    path_degrees: float = param(6.0, "How far the path turns over all frames (orbit angle; fly-through heading change)", unit="deg",
                                lo=0.0, hi=360.0, group="Camera")
    fov_deg: float = param(60.0, "Horizontal field of view of generated cameras", unit="deg", lo=5.0, hi=150.0, group="Camera")
    camera_pose: str = param("", "Fixed pose for path = pose: 12 comma-separated numbers, the world-to-camera matrix's top 3x4 rows "
                             "(OpenCV axes), then optionally fx,fy", group="Camera", gui=False)
    # ---- exact renderer ---------------------------------------------------------------------------
    near: float = param(0.2, "Near plane: Gaussians with camera-space depth at or below it are culled (3DGS uses 0.2)", unit="scene units",
                        lo=1e-3, hi=100.0, group="Renderer")
    background: float = param(0.0, "Grey level behind the Gaussians (added with the final transmittance)", lo=0.0, hi=1.0, group="Renderer")
    chunk_gaussians: int = param(16, "Gaussians of each tile blended in the first vectorised round; the count doubles each round within "
                                 "pair_budget",
                                 lo=4, hi=4096, group="Renderer")
    pair_budget: int = param(4_000_000, "Memory bound: pixel-Gaussian evaluations held at once in one blending step",
                             lo=65536, hi=64_000_000, group="Renderer", gui=False)
    compaction: str = param("pixel", "Blending schedule: whole tiles until all their pixels are done ('tile', as 3DGS), or only the "
                             "unfinished pixels packed densely into rows ('pixel'); the image is the same", choices=COMPACTION,
                             group="Renderer")
    pack: int = param(64, "Pixels per packed row when compaction = pixel", lo=8, hi=256, group="Renderer", gui=False)
    dtype: str = param("float32", "Floating-point precision of the renderer", choices=("float32", "float64"), group="Renderer", gui=False)
    # ---- method -----------------------------------------------------------------------------------
    method: str = param("s2+rc", "Method compared with the exact renderer on every frame of the path", choices=METHODS, group="Method")
    s2_share: str = param("order", "S²: what the frames after a sort reuse: the reference's per-tile lists as they are ('lists': "
                          "no binning or sorting at all, membership widened by the margin) or its depth order only ('order': each "
                          "frame bins afresh and groups by tile with a stable sort, no depth sort)", choices=("lists", "order"), group="S²")
    s2_window: int = param(6, "S²: frames that share one sort (1 = sort every frame)", lo=1, hi=1000, group="S²")
    s2_margin_px: float = param(8.0, "S²: the reference sort uses footprints widened by this margin (a wider field of view), so "
                                "Gaussians that move up to this far still land in the shared tile lists", unit="px", lo=0.0, hi=256.0,
                                group="S²")
    s2_max_angle_deg: float = param(5.0, "S²: re-sort when the view direction turns further than this from the reference pose",
                                    unit="deg", lo=0.0, hi=180.0, group="S²")
    s2_max_translation: float = param(0.5, "S²: re-sort when the camera moves further than this from the reference pose",
                                      unit="scene units", lo=0.0, hi=1e6, group="S²")
    s2_guard: str = param("off", "S²: 'strict' also re-sorts whenever a visible Gaussian's footprint leaves its widened reference "
                          "footprint (the shared lists would miss it); 'off' trusts the window and pose thresholds",
                          choices=S2_GUARDS, group="S²")
    rc_k: int = param(4, "RC: the cache key is the first k contributing Gaussians of a pixel", lo=1, hi=64, group="RC")
    rc_pos_step: float = param(0.5, "RC: the key also holds the pixel's position inside the first Gaussian's footprint, quantised "
                               "to this step in standard deviations (0 = IDs only)", unit="sigma", lo=0.0, hi=10.0, group="RC")
    rc_pos_of: str = param("all", "RC: whose footprints the quantised position is taken in: the first leading Gaussian only, or all k "
                           "(the finest footprint then decides)", choices=("first", "all"), group="RC")
    rc_capacity: int = param(65536, "RC: cache entries kept across frames (least recently used evicted)", lo=0, hi=10_000_000, group="RC")
    rc_lifetime: int = param(2, "RC: frames an entry stays valid after it was written (0 = share only within a frame)",
                             lo=0, hi=1000, group="RC")
    rc_share_in_frame: bool = param(True, "RC: pixels of one frame with the same key share one blended remainder (the first pixel "
                                    "in raster order computes it)", group="RC")

    def validate(self) -> None:
        if self.scene == "file" and not self.scene_path:
            raise ValueError("scene_path: required when scene = file (allowed: a .ply or .splat path)")
        work = self.width * self.height * self.frames
        if work > MAX_PIXEL_FRAMES:
            raise ValueError(f"frames: {self.frames} frames of {self.width}×{self.height} px are {work:,} pixels to render twice (exact "
                             f"and method), more than the {MAX_PIXEL_FRAMES:,} a 2-core machine renders in minutes "
                             "(allowed: lower frames, width or height)")
        if self.path == "pose" and not self.camera_pose:
            raise ValueError("camera_pose: required when path = pose (allowed: 12 numbers, optionally fx,fy)")
        if self.camera_pose:
            check_pose(self.camera_pose)

    @property
    def uses_s2(self) -> bool:
        return self.method in ("s2", "s2+rc")

    @property
    def uses_rc(self) -> bool:
        return self.method in ("rc", "s2+rc")
