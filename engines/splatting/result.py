"""The path evaluation's Result: exact against the method on every frame, the work ratio and its verdict, the paper's figures.

What a user reads first (the headline) are the machine-independent figures: the **work ratio** Σ exact ÷ Σ method
pixel–Gaussian evaluations over the path (the blending work S² and RC save; blending is > 80 % of a frame) and
the method's mean PSNR against the exact frames. The project's target for the method to *pay* is
ratio ≥ 1.5× at mean PSNR ≥ 35 dB (:data:`TARGET`); wall-clock milliseconds vary run to run and stay in ``details()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.base import Figure, ResultBase

from .config import METHOD_LABELS, Config
from .rasterizer import StageClock

STAGES = StageClock.STAGES
# one spelling of the colours every view of this engine uses (the Result's figures, the panel's plots)
COLORS = {"exact": "#555555", "method": "#d95f02", "target": "#1b9e77"}
# the RC hit map's pixel kinds: 0 finished before its k-th contributor, 1 cache hit, 2 shared in the frame, 3 blended to the end
HIT_KINDS = {0: "finished before k contributors", 1: "cache hit from earlier frames", 2: "shared with an earlier pixel of the frame",
             3: "blended to the end"}
HIT_COLORS = {1: (46, 204, 64), 2: (0, 116, 217), 3: (255, 65, 54)}
# the method pays when it saves at least this much blending work at at least this mean PSNR against exact
TARGET = {"work_ratio": Figure(1.5, "×", "target: blending work ratio at least"),
          "psnr_mean_db": Figure(35.0, "dB", "target: mean PSNR against exact at least")}


@dataclass(repr=False)  # repr: the base prints the headline
class Result(ResultBase):
    """Exact against method over a camera path; per-frame arrays (``frames_done`` filled) and the newest frame's images."""

    PAPER = {
        "speedup": Figure(4.5, "×", "speed-up, LuminCore accelerator vs a mobile Volta GPU"),
        "psnr_loss_db": Figure(0.2, "dB", "PSNR loss vs photographs, at most"),
    }

    config: Config
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
    exact_evals: np.ndarray  # (frames,) pixel–Gaussian exponent evaluations (machine-independent work)
    method_evals: np.ndarray
    rgb_exact: np.ndarray
    rgb_method: np.ndarray
    depth_exact: np.ndarray
    alpha_exact: np.ndarray
    hitmap: np.ndarray  # see HIT_KINDS
    camera_pose: str = ""  # the newest frame's pose (Config.camera_pose text)
    scene_file: str = ""  # the .ply/.splat the scene came from ("" for the built-in scenes)
    cameras_file: str = ""  # the cameras.json read beside it ("" when the camera was framed from the splats)

    def _done(self, a):
        return a[: self.frames_done]

    @property
    def method_label(self) -> str:
        return METHOD_LABELS[self.config.method]

    @property
    def work_ratio(self) -> float | None:
        """Σ exact ÷ Σ method pixel–Gaussian evaluations over the frames done (None before the first)."""
        m = float(np.sum(self._done(self.method_evals)))
        return float(np.sum(self._done(self.exact_evals))) / m if m > 0 else None

    @property
    def psnr_mean_db(self) -> float | None:
        """Mean PSNR against exact over the frames done, identical frames counted as 100 dB."""
        return float(np.mean(np.minimum(self._done(self.psnr_db), 100.0))) if self.frames_done else None

    @property
    def meets_target(self) -> bool:
        r, p = self.work_ratio, self.psnr_mean_db
        return r is not None and p is not None and r >= TARGET["work_ratio"].value and p >= TARGET["psnr_mean_db"].value

    def verdict(self) -> str:
        """One line: whether the method pays on this path, with the figures and the target."""
        if not self.frames_done:
            return "no frame rendered yet"
        target = f"target ≥ {TARGET['work_ratio'].value:g}× at ≥ {TARGET['psnr_mean_db'].value:g} dB"
        figures = f"blending work ratio {self.work_ratio:.2f}× at {self.psnr_mean_db:.1f} dB mean PSNR"
        return f"{self.method_label} {'pays' if self.meets_target else 'does not pay'} here: {figures} ({target})"

    def headline(self) -> dict[str, Figure]:
        n = self.frames_done
        return {
            "work_ratio": Figure(self.work_ratio, "×", f"blending work, exact ÷ {self.method_label} (pixel–Gaussian evaluations)"),
            "psnr_mean_db": Figure(self.psnr_mean_db, "dB", f"PSNR of {self.method_label} against exact, mean of {n} frames"),
        }

    def details(self) -> dict:
        n = self.frames_done
        e, m = float(np.sum(self._done(self.exact_ms))), float(np.sum(self._done(self.method_ms)))
        ps = self._done(self.psnr_db)
        fin = ps[np.isfinite(ps)]
        return dict(
            scene=self.scene, gaussians=self.gaussians, width=self.width, height=self.height, device=self.device,
            method=self.config.method, frames=n, scene_file=self.scene_file, cameras_file=self.cameras_file,
            exact_ms_mean=e / max(n, 1), method_ms_mean=m / max(n, 1), speedup=(e / m) if m > 0 else None,
            work_ratio=self.work_ratio,
            exact_evals_per_frame=float(np.mean(self._done(self.exact_evals))) if n else None,
            method_evals_per_frame=float(np.mean(self._done(self.method_evals))) if n else None,
            psnr_mean_db=self.psnr_mean_db, psnr_min_db=float(np.min(ps)) if n else None, psnr_frames_identical=int(n - fin.size),
            ssim_mean=float(np.mean(self._done(self.ssim))) if n else None,
            rc_hit_rate_mean=float(np.mean(self._done(self.hit_rate))) if n else None,
            work_skipped_mean=float(np.mean(self._done(self.work_skipped))) if n else None,
            s2_sorts=int(np.sum(self._done(self.resorted))),
            target={k: f.value for k, f in TARGET.items()}, meets_target=self.meets_target, verdict=self.verdict(),
            exact_stage_ms_mean=dict(zip(STAGES, np.mean(self._done(self.exact_stage_ms), axis=0).tolist())) if n else {},
            method_stage_ms_mean=dict(zip(STAGES, np.mean(self._done(self.method_stage_ms), axis=0).tolist())) if n else {},
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
            panels = [("exact", np.clip(self.rgb_exact, 0, 1)), (self.method_label, np.clip(self.rgb_method, 0, 1)),
                      ("|difference| x10", np.clip(10 * diff, 0, 1)), ("RC hit map", self.hitmap)]
            for i, (title, img) in enumerate(panels):
                ax = fig.add_subplot(2, 2, i + 1)
                ax.imshow(img, cmap="viridis" if img.ndim == 2 else None, vmin=0, vmax=3 if title == "RC hit map" else 1)
                ax.set_title(title)
                ax.axis("off")

        def work(fig):
            n = self.frames_done
            ax = fig.add_subplot(1, 2, 1)
            ax.plot(self.exact_evals[:n] / 1e6, "o-", color=COLORS["exact"], label="exact")
            ax.plot(self.method_evals[:n] / 1e6, "s-", color=COLORS["method"], label=self.method_label)
            ax.set_xlabel("frame")
            ax.set_ylabel("blending work [million pixel–Gaussian evaluations]")
            ax.set_ylim(bottom=0)
            ax.legend()
            ax2 = fig.add_subplot(1, 2, 2)
            ax2.plot(np.minimum(self.psnr_db[:n], 100), "s-", color=COLORS["method"])
            ax2.axhline(TARGET["psnr_mean_db"].value, color=COLORS["target"], ls="--", label="target")
            ax2.set_xlabel("frame")
            ax2.set_ylabel("PSNR vs exact [dB]")
            ax2.legend()

        return {"images": images, "timing": work}
