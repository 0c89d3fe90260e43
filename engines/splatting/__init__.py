"""3D Gaussian Splatting with Lumina's sort sharing (S²) and radiance caching (RC) (arXiv:2506.05682).

An exact, vectorised torch tile rasteriser (3DGS), S² and RC reconstructed on top of it, scene files
(.ply, .splat, cameras.json), a procedural and a garden scene, and a path evaluation of method vs exact.
"""

from engines.base import consume

from .bench import bench
from .camera import Camera, fly_path, look_at, orbit_path
from .config import Config
from .evaluate import Result, default_camera, load_config_scene, path_cameras, render_image, stream
from .formats import SceneFileError, load_scene, read_cameras_json, read_ply, read_splat, write_ply, write_splat
from .scene import Scene, garden_available, garden_scene, procedural_scene


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


__all__ = ["Config", "Result", "stream", "run", "bench", "Scene", "Camera", "procedural_scene", "garden_scene", "garden_available",
           "load_scene", "read_ply", "write_ply", "read_splat", "write_splat", "read_cameras_json", "SceneFileError", "render_image",
           "path_cameras", "default_camera", "load_config_scene", "orbit_path", "fly_path", "look_at"]
