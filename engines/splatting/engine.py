"""The contract's stream and run: every frame of a camera path rendered exactly and with the configured method."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator

import numpy as np
import torch

from engines.base import Snapshot, consume
from engines.device import resolve
from engines.inputs import regular_file

from .camera import Camera, format_pose
from .config import Config
from .formats import SceneFileError, cameras_beside, load_scene
from .paths import path_cameras
from .pipeline import Renderer, psnr, ssim
from .rasterizer import Frame, to_device
from .result import STAGES, Result
from .scene import Scene, garden_scene, procedural_scene

_scene_lock = threading.Lock()  # the panel's viewport and its job may ask for the same scene at once: build it once


@functools.lru_cache(maxsize=4)
def _procedural(n: int, seed: int) -> Scene:
    return procedural_scene(n, seed)


@functools.lru_cache(maxsize=2)
def _file_scene(path: str, mtime: float, cameras_mtime: float | None) -> Scene:
    return load_scene(path)


def load_config_scene(cfg: Config) -> Scene:
    """The scene a Config names (cached: building the garden's neighbour scales takes a second)."""
    with _scene_lock:
        if cfg.scene == "procedural":
            return _procedural(cfg.procedural_gaussians, cfg.seed)
        if cfg.scene == "garden":
            return garden_scene()
        p = regular_file(cfg.scene_path, SceneFileError)  # a FIFO or a device is refused before anything reads it
        cams = cameras_beside(p)
        return _file_scene(str(p.resolve()), p.stat().st_mtime, cams.stat().st_mtime if cams else None)


def _empty_result(cfg: Config, scene: Scene, dev: torch.device, frames: int) -> Result:
    H, W = cfg.height, cfg.width
    z = np.zeros(frames)
    return Result(cfg, scene.name, scene.n, W, H, str(dev), 0, scene_file=scene.source, cameras_file=scene.cameras_source,
                  exact_ms=z.copy(), method_ms=z.copy(), exact_stage_ms=np.zeros((frames, 5)),
                  method_stage_ms=np.zeros((frames, 5)), psnr_db=z.copy(), ssim=z.copy(), hit_rate=z.copy(), work_skipped=z.copy(),
                  resorted=z.copy(), exact_evals=z.copy(), method_evals=z.copy(), rgb_exact=np.zeros((H, W, 3), np.float32),
                  rgb_method=np.zeros((H, W, 3), np.float32), depth_exact=np.zeros((H, W), np.float32),
                  alpha_exact=np.zeros((H, W), np.float32), hitmap=np.zeros((H, W), np.uint8))


def stream(config: Config | None = None, device: str = "auto", scene: Scene | None = None) -> Iterator[Snapshot[Result]]:
    """Render the camera path exactly and with ``config.method``; one snapshot (a frozen Result) per finished frame."""
    cfg = config or Config()
    dev = resolve(device)
    torch.manual_seed(cfg.seed)
    yield Snapshot(0.0, f"loading scene {cfg.scene}")
    scene = scene or load_config_scene(cfg)
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    g = to_device(scene, dev, dtype, cfg.splat_scale, cfg.sh_degree)
    cams = path_cameras(cfg, scene)
    F = len(cams)
    res = _empty_result(cfg, scene, dev, F)
    exact, method = Renderer(g, cfg, "exact"), Renderer(g, cfg)
    for i, cam in enumerate(cams):
        t0 = time.perf_counter()
        fe = exact.render(cam)
        te = 1000 * (time.perf_counter() - t0)
        yield Snapshot((2 * i + 1) / (2 * F + 1), f"frame {i + 1}/{F}: exact {te:.0f} ms")
        t0 = time.perf_counter()
        fm = method.render(cam)
        tm = 1000 * (time.perf_counter() - t0)
        res.exact_ms[i], res.method_ms[i] = te, tm
        res.exact_stage_ms[i] = [fe.stage_ms[s] for s in STAGES]
        res.method_stage_ms[i] = [fm.stage_ms[s] for s in STAGES]
        res.psnr_db[i] = psnr(fe.rgb, fm.rgb)
        res.ssim[i] = ssim(fe.rgb, fm.rgb)
        cand = fm.info.get("rc_candidates", 0)
        res.hit_rate[i] = (fm.info.get("rc_hits", 0) + fm.info.get("rc_shared", 0)) / cand if cand else 0.0
        res.work_skipped[i] = 1.0 - fm.evaluations / max(fe.evaluations, 1)
        res.exact_evals[i], res.method_evals[i] = fe.evaluations, fm.evaluations
        res.resorted[i] = 1.0 if fm.info.get("s2_resort") else 0.0
        res.rgb_exact, res.rgb_method, res.depth_exact, res.alpha_exact = fe.rgb, fm.rgb, fe.depth, fe.alpha
        res.hitmap = fm.hitmap if fm.hitmap is not None else np.zeros(fe.alpha.shape, np.uint8)
        res.frames_done = i + 1
        res.camera_pose = format_pose(cam)
        last = i == F - 1
        yield Snapshot(1.0 if last else (2 * i + 2) / (2 * F + 1),
                       f"frame {i + 1}/{F}: exact {te:.0f} ms, {cfg.method} {tm:.0f} ms, {res.psnr_db[i]:.1f} dB", res.frozen())


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


def render_image(config: Config, camera: Camera, device: str = "auto", method: str = "exact", scene: Scene | None = None) -> Frame:
    """One frame of ``scene`` (default: the config's) at ``camera`` with the given method: a rasterizer Frame."""
    dev = resolve(device)
    scene = scene or load_config_scene(config)
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    g = to_device(scene, dev, dtype, config.splat_scale, config.sh_degree)
    return Renderer(g, config, method).render(camera)
