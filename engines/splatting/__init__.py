"""3D Gaussian Splatting with Lumina's sort sharing (S²) and radiance caching (RC) (arXiv:2506.05682).

An exact, vectorised torch tile rasteriser (3DGS), S² and RC reconstructed on top of it, scene files
(.ply, .splat, cameras.json), the garden scene (real Mip-NeRF 360 points, the default) and a procedural one,
a path evaluation of method against exact (``stream``/``run``), and what a live viewer needs (view sorting
under the same S² rule, an orbit/fly camera control, picking).
"""

from .bench import bench
from .camera import Camera, fly_path, format_pose, intrinsics_for, look_at, orbit_path
from .config import METHOD_LABELS, Config
from .engine import load_config_scene, render_image, run, stream
from .formats import (
                      SceneFileError,
                      cameras_beside,
                      load_scene,
                      read_cameras_json,
                      read_ply,
                      read_splat,
                      write_cameras_json,
                      write_ply,
                      write_splat,
)
from .paths import default_camera, framing_camera, path_cameras, robust_bounds, scene_frame
from .pipeline import psnr, ssim
from .result import COLORS, HIT_COLORS, HIT_KINDS, TARGET, Result
from .scene import Scene, garden_scene, procedural_scene
from .sort_sharing import ResortRule
from .viewer import OrbitControl, SortResult, ViewSorter, pick_depth

__all__ = ["Config", "Result", "stream", "run", "bench", "render_image", "load_config_scene", "path_cameras", "default_camera",
           "scene_frame", "framing_camera", "robust_bounds", "Scene", "Camera", "procedural_scene", "garden_scene", "load_scene",
           "read_ply", "write_ply", "read_splat", "write_splat", "read_cameras_json", "write_cameras_json", "SceneFileError",
           "cameras_beside", "orbit_path", "fly_path", "look_at", "format_pose", "intrinsics_for", "psnr", "ssim", "ResortRule",
           "ViewSorter", "SortResult", "OrbitControl", "pick_depth", "METHOD_LABELS", "COLORS", "HIT_COLORS", "HIT_KINDS", "TARGET"]
