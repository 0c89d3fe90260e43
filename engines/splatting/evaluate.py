"""Path evaluation: every frame of a camera path rendered exactly and with the configured method, side by side."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engines.base import ResultBase, Snapshot
from engines.device import resolve

from .camera import Camera, fly_path, interpolate_path, intrinsics_for, orbit_path, parse_pose
from .config import Config
from .formats import load_scene
from .pipeline import Renderer, psnr, ssim
from .rasterizer import StageClock, to_device
from .scene import Scene, garden_scene, procedural_cameras, procedural_scene

PAPER_PSNR_LOSS_DB = 0.2  # Lumina: < 0.2 dB PSNR loss
PAPER_SPEEDUP = 4.5  # Lumina (LuminCore accelerator) vs a mobile Volta GPU
STAGES = StageClock.STAGES


@functools.lru_cache(maxsize=4)
def _procedural(n: int, seed: int) -> Scene:
    return procedural_scene(n, seed)


@functools.lru_cache(maxsize=2)
def _file_scene(path: str, mtime: float) -> Scene:
    return load_scene(path)


def load_config_scene(cfg: Config) -> Scene:
    """The scene a Config names (cached: building the garden's neighbour scales takes a second)."""
    if cfg.scene == "procedural":
        return _procedural(cfg.procedural_gaussians, cfg.seed)
    if cfg.scene == "garden":
        return garden_scene()
    p = Path(cfg.scene_path)
    if not p.is_file():
        raise ValueError(f"scene_path: no such file {cfg.scene_path!r}")
    return _file_scene(str(p.resolve()), p.stat().st_mtime)


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


@dataclass
class Result(ResultBase):
    """Exact against method over a camera path; images of the newest frame."""

    config: dict
    scene: str
    gaussians: int
    width: int
    height: int
    device: str
    frames_done: int
    exact_ms: np.ndarray  # (frames,)
    method_ms: np.ndarray
    exact_stage_ms: np.ndarray  # (frames, 5) project, shade, bin, sort, blend
    method_stage_ms: np.ndarray
    psnr_db: np.ndarray
    ssim: np.ndarray
    hit_rate: np.ndarray  # RC: pixels that skipped blending / pixels that reached k contributors
    work_skipped: np.ndarray  # 1 - method evaluations / exact evaluations
    resorted: np.ndarray  # S²: 1 where the frame sorted
    rgb_exact: np.ndarray
    rgb_method: np.ndarray
    depth_exact: np.ndarray
    alpha_exact: np.ndarray
    hitmap: np.ndarray  # 0 exact (finished before k), 1 cache hit, 2 shared in frame, 3 computed
    exact_evals: np.ndarray | None = None  # (frames,) pixel–Gaussian exponent evaluations (machine-independent work)
    method_evals: np.ndarray | None = None
    camera_pose: str = ""
    extra: dict = field(default_factory=dict)

    def _done(self, a):
        return a[: self.frames_done]

    def summary(self) -> dict:
        n = self.frames_done
        e, m = float(np.sum(self._done(self.exact_ms))), float(np.sum(self._done(self.method_ms)))
        ps = self._done(self.psnr_db)
        fin = ps[np.isfinite(ps)]
        return dict(
            scene=self.scene, gaussians=self.gaussians, width=self.width, height=self.height, device=self.device,
            method=self.config.get("method"), frames=n,
            exact_ms_mean=e / max(n, 1), method_ms_mean=m / max(n, 1), speedup=(e / m) if m > 0 else None,
            psnr_mean_db=float(np.mean(np.minimum(ps, 100.0))) if n else None,
            psnr_min_db=float(np.min(ps)) if n else None, psnr_frames_identical=int(n - fin.size),
            ssim_mean=float(np.mean(self._done(self.ssim))) if n else None,
            rc_hit_rate_mean=float(np.mean(self._done(self.hit_rate))) if n else None,
            work_skipped_mean=float(np.mean(self._done(self.work_skipped))) if n else None,
            s2_sorts=int(np.sum(self._done(self.resorted))),
            exact_stage_ms_mean=dict(zip(STAGES, np.mean(self._done(self.exact_stage_ms), axis=0).tolist())) if n else {},
            method_stage_ms_mean=dict(zip(STAGES, np.mean(self._done(self.method_stage_ms), axis=0).tolist())) if n else {},
            paper=dict(psnr_loss_db=PAPER_PSNR_LOSS_DB, speedup=PAPER_SPEEDUP),
        )

    def tables(self) -> dict:
        n = self.frames_done
        cols = {"frame": np.arange(n), "exact_ms": self._done(self.exact_ms), "method_ms": self._done(self.method_ms)}
        for i, s in enumerate(STAGES):
            cols[f"exact_{s}_ms"] = self.exact_stage_ms[:n, i]
        for i, s in enumerate(STAGES):
            cols[f"method_{s}_ms"] = self.method_stage_ms[:n, i]
        cols.update(exact_evaluations=self._done(self.exact_evals), method_evaluations=self._done(self.method_evals),
                    psnr_db=np.minimum(self._done(self.psnr_db), 100.0), ssim=self._done(self.ssim), rc_hit_rate=self._done(self.hit_rate),
                    work_skipped=self._done(self.work_skipped), s2_sorted=self._done(self.resorted))
        return {"frames": cols}

    def figures(self) -> dict:
        def images(fig):
            diff = np.abs(self.rgb_method - self.rgb_exact).mean(axis=2)
            panels = [("exact", np.clip(self.rgb_exact, 0, 1)), (str(self.config.get("method")), np.clip(self.rgb_method, 0, 1)),
                      ("|difference| x10", np.clip(10 * diff, 0, 1)), ("RC hit map", self.hitmap)]
            for i, (title, img) in enumerate(panels):
                ax = fig.add_subplot(2, 2, i + 1)
                ax.imshow(img, cmap="viridis" if img.ndim == 2 else None, vmin=0, vmax=3 if title == "RC hit map" else 1)
                ax.set_title(title)
                ax.axis("off")

        def timing(fig):
            n = self.frames_done
            ax = fig.add_subplot(1, 2, 1)
            ax.plot(self.exact_ms[:n], "o-", color="#444444", label="exact")
            ax.plot(self.method_ms[:n], "s-", color="#d95f02", label=str(self.config.get("method")))
            ax.set_xlabel("frame")
            ax.set_ylabel("ms per frame")
            ax.legend()
            ax2 = fig.add_subplot(1, 2, 2)
            ax2.plot(np.minimum(self.psnr_db[:n], 100), "o-", color="#1b9e77")
            ax2.set_xlabel("frame")
            ax2.set_ylabel("PSNR vs exact [dB]")

        return {"images": images, "timing": timing}


def _empty_result(cfg: Config, scene: Scene, dev: torch.device, frames: int) -> Result:
    H, W = cfg.height, cfg.width
    z = np.zeros(frames)
    return Result(cfg.to_dict(), scene.name, scene.n, W, H, str(dev), 0, z.copy(), z.copy(), np.zeros((frames, 5)), np.zeros((frames, 5)),
                  z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), np.zeros((H, W, 3), np.float32), np.zeros((H, W, 3), np.float32),
                  np.zeros((H, W), np.float32), np.zeros((H, W), np.float32), np.zeros((H, W), np.uint8), z.copy(), z.copy())


def stream(config: Config | None = None, device: str = "auto", scene: Scene | None = None) -> Iterator[Snapshot[Result]]:
    """Render the camera path exactly and with ``config.method``; one snapshot per rendered image."""
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
        yield Snapshot((2 * i + 1) / (2 * F + 1), f"frame {i + 1}/{F}: exact {te:.0f} ms", res)
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
        from .camera import format_pose

        res.camera_pose = format_pose(cam)
        last = i == F - 1
        yield Snapshot(1.0 if last else (2 * i + 2) / (2 * F + 1),
                       f"frame {i + 1}/{F}: exact {te:.0f} ms, {cfg.method} {tm:.0f} ms, {res.psnr_db[i]:.1f} dB", res)


def render_image(config: Config, camera: Camera, device: str = "auto", method: str = "exact", scene: Scene | None = None):
    """One frame of ``scene`` (default: the config's) at ``camera`` with the given method: a rasterizer Frame."""
    dev = resolve(device)
    scene = scene or load_config_scene(config)
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    g = to_device(scene, dev, dtype, config.splat_scale, config.sh_degree)
    return Renderer(g, config, method).render(camera)


def default_camera(config: Config, scene: Scene) -> Camera:
    """The first camera of the configured path."""
    return path_cameras(config.replace(frames=1), scene)[0]


__all__ = ["Result", "stream", "render_image", "path_cameras", "load_config_scene", "default_camera", "intrinsics_for"]
