"""The Result: every method's quality and speed against full compute, the searched schedule, videos, masks, front."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base import Figure, ResultBase
from .config import Config

METHODS = ("astraea", "astraea_recompute_kv", "uniform", "fewer_steps", "random_tokens", "step_cache")
BASELINES = ("uniform", "fewer_steps", "random_tokens", "step_cache")
LABELS = {"full": "full compute", "astraea": "ASTRAEA (searched)", "astraea_recompute_kv": "ASTRAEA, recomputed K/V",
          "uniform": "uniform budget", "fewer_steps": "fewer steps", "random_tokens": "random tokens",
          "step_cache": "step cache (TeaCache-style)"}


@dataclass
class Result(ResultBase):
    PAPER = {
        "speedup": Figure(1.86, "×", "speed-up at budget 0.5, one GPU (Wan 2.1 1.3B)"),
        "speedup_b07": Figure(1.36, "×", "speed-up at budget 0.7, one GPU"),
        "speedup_b04": Figure(2.29, "×", "speed-up at budget 0.4, one GPU"),
        "speedup_8gpu": Figure(13.2, "×", "speed-up on 8 GPUs (sequence parallel)"),
        "vbench_loss": Figure(0.5, "%", "VBench score loss against the full model (upper bound)"),
    }
    config: Config
    n_tokens: int = 0
    grid: int = 0
    patch: int = 0
    class_name: str = ""
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    full_wall_s: float = 0.0
    full_cpu_s: float = 0.0
    methods: dict = field(default_factory=dict)  # name -> speedup, psnr_db, ssim, flicker, budget, wall_s, tokens_computed
    psnr_frames: dict = field(default_factory=dict)  # name -> [frames] PSNR per frame (mean over videos)
    videos: dict = field(default_factory=dict)  # "full" / method -> the first video [F, H, W]
    masks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # [steps, N] ASTRAEA's recomputed tokens
    tokens_per_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    computed_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # the step cache's computed steps
    step_cache_threshold: float = 0.0
    search: dict = field(default_factory=dict)
    front: list = field(default_factory=list)  # {method, budget_set, budget, speedup, psnr_db, ssim}
    training: dict = field(default_factory=dict)  # the loss curve when trained in this run

    # ---- reading ---------------------------------------------------------------------------------------------------
    def best_baseline(self) -> str | None:
        """The baseline with the highest PSNR at the budget (None before the methods ran)."""
        have = [b for b in BASELINES if b in self.methods]
        return max(have, key=lambda b: self.methods[b]["psnr_db"]) if have else None

    def front_of(self, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = sorted((r for r in self.front if r["method"] == method), key=lambda r: r["budget"])
        return (np.array([r["budget"] for r in rows]), np.array([r["speedup"] for r in rows]),
                np.array([r["psnr_db"] for r in rows]))

    def headline(self) -> dict[str, Figure]:
        if "astraea" not in self.methods:
            return {}
        a = self.methods["astraea"]
        b = self.config.budget
        out = {
            "speedup": Figure(a["speedup"], "×", f"ASTRAEA speed-up at budget {b:g} (CPU time, 1 thread, {self.config.steps} steps)"),
            "psnr_db": Figure(a["psnr_db"], "dB", "ASTRAEA PSNR against full compute", error=a["psnr_db_std"]),
        }
        if "heldout_gain_db" in self.search:
            out["search_gain_db"] = Figure(self.search["heldout_gain_db"], "dB", "searched schedule over uniform, held-out")
        best = self.best_baseline()
        if best:
            out["best_baseline_psnr_db"] = Figure(self.methods[best]["psnr_db"], "dB", f"best baseline ({LABELS[best]}) PSNR")
        return out

    def details(self) -> dict:
        search = {k: v for k, v in self.search.items() if k != "history"}
        return {"methods": self.methods, "search": search, "best_baseline": self.best_baseline(), "n_tokens": self.n_tokens,
                "class": self.class_name, "full_wall_s": self.full_wall_s, "full_cpu_s": self.full_cpu_s,
                "step_cache_threshold": self.step_cache_threshold,
                "front": self.front, "metrics_not_computed": "LPIPS, FVD and VBench need backbone weights from the internet"}

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"video_{k}": v for k, v in self.videos.items()}
        out.update({f"psnr_frames_{k}": v for k, v in self.psnr_frames.items()})
        out.update(masks=self.masks, tokens_per_step=self.tokens_per_step, computed_steps=self.computed_steps)
        if self.search.get("history"):
            out["ea_fitness"] = np.array(self.search["history"], float)
            out["best_schedule"] = np.array(self.search["best_schedule"])
            out["uniform_schedule"] = np.array(self.search["uniform_schedule"])
        return out

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        tables = {}
        if self.methods:
            names = [m for m in METHODS if m in self.methods]
            tables["methods"] = {"method_index": np.arange(len(names)),
                                 **{k: np.array([self.methods[m][k] for m in names], float)
                                    for k in ("budget", "speedup", "psnr_db", "ssim", "flicker", "wall_s")}}
        if self.front:
            tables["front"] = {"method_index": np.array([METHODS.index(r["method"]) for r in self.front]),
                               **{k: np.array([r[k] for r in self.front], float) for k in ("budget", "speedup", "psnr_db", "ssim")}}
        return tables

    def figures(self) -> dict:
        figs = {}
        if self.front:
            def front(fig):
                ax = fig.add_subplot(111)
                for m in (*BASELINES, "astraea_recompute_kv"):
                    _, s, p = self.front_of(m)
                    ax.plot(s, p, "o-", label=LABELS[m])
                if "astraea" in self.methods:
                    a = self.methods["astraea"]
                    ax.plot([a["speedup"]], [a["psnr_db"]], "*", ms=14, label=LABELS["astraea"])
                ax.set_xlabel("speed-up over full compute [×]")
                ax.set_ylabel("PSNR against full compute [dB]")
                ax.legend()
            figs["front"] = front
        if self.search.get("best_schedule"):
            def schedule(fig):
                ax = fig.add_subplot(111)
                ax.plot(self.search["best_schedule"], label="searched")
                ax.plot(self.search["uniform_schedule"], label="uniform")
                ax.set_xlabel("sampling step")
                ax.set_ylabel("token budget [share of tokens]")
                ax.legend()
            figs["schedule"] = schedule
        return figs
