"""The Result: NIAH heatmaps and local accuracy per scaling × length, RoPE per row, training curves, the calculator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..base import Figure, ResultBase, jsonable
from . import rope
from .calculator import ModelReport
from .config import Config
from .scalings import SCALINGS

LABEL = {"none": "plain RoPE", "linear": "linear PI", "dynamic_ntk": "dynamic NTK", "yarn": "YaRN", "llama3": "llama3",
         "ultralong": "UltraLong", "ultralong_control": "plain control"}  # the last two: after continued training at 8×


@dataclass(repr=False)  # ResultBase's repr: the headline beside the paper's numbers
class Result(ResultBase):
    """Arrays indexed [scaling, length(, depth | pair)] in the order of ``scalings`` and ``lengths``; NaN = not evaluated yet.

    ``heatmap``: needle accuracy in % (length × depth); ``local_accuracy``: % of determined haystack tokens predicted;
    ``scale``: the s used; ``theta``/``attention_factor``: the RoPE each row ran with; loss curves one value per step.
    """

    PAPER: ClassVar[dict[str, Figure]] = {
        "niah_ultralong": Figure(100.0, "%", "UltraLong-8B (1M/2M/4M) needle-in-a-haystack accuracy over every length and depth of "
                                             "its window, as the paper's NIAH figure reports"),
        "yarn_scale": Figure(128.0, "×", "YaRN scale of UltraLong-8B-1M, measured from Llama-3's original 8K window (2M: 256, 4M: 512)"),
        "yarn_beta_fast": Figure(4.0, "", "YaRN β of UltraLong (transformers' beta_fast; α = beta_slow = 1; transformers' default 32)"),
        "extend_steps": Figure(150.0, "steps", "continued-pretraining iterations of UltraLong-8B-4M (4M-token sequences, global batch 2)"),
        "extend_tokens": Figure(1e9, "tokens", "continued-pretraining data: documents joined by a separator, no cross-document mask"),
    }

    config: Config
    scalings: tuple[str, ...]
    lengths: np.ndarray
    length_ratio: np.ndarray
    depths: np.ndarray
    heatmap: np.ndarray
    local_accuracy: np.ndarray
    scale: np.ndarray
    theta: np.ndarray
    attention_factor: np.ndarray
    base_theta: np.ndarray
    calculator: ModelReport
    parameters: int = 0
    base_answer_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    base_lm_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ultralong_answer_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ultralong_lm_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_answer_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_lm_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    timings: dict = field(default_factory=dict)
    source: str = "train"
    provenance: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, cfg: Config, calculator: ModelReport, depths: np.ndarray) -> Result:
        n_s, n_l, pairs = len(SCALINGS), len(cfg.lengths), cfg.head_dim // 2
        nan = np.full((n_s, n_l), np.nan)
        return cls(config=cfg, scalings=SCALINGS, lengths=np.array(cfg.lengths), length_ratio=np.array(cfg.length_ratios),
                   depths=depths, heatmap=np.full((n_s, n_l, len(depths)), np.nan), local_accuracy=nan.copy(), scale=nan.copy(),
                   theta=np.full((n_s, n_l, pairs), np.nan), attention_factor=nan.copy(),
                   base_theta=rope.default_frequencies(cfg.rope_theta, cfg.head_dim), calculator=calculator)

    # ---- reading the grid ------------------------------------------------------------------------------------------
    def row(self, scaling: str) -> int:
        return self.scalings.index(scaling)

    def accuracy(self, scaling: str) -> np.ndarray:
        """Needle accuracy (%) per length, the mean over depths."""
        return self.heatmap[self.row(scaling)].mean(axis=1)

    def at(self, scaling: str, ratio: float) -> float:
        """Mean needle accuracy (%) of ``scaling`` at L = ratio × L_train (NaN when that length is not in the grid)."""
        hit = np.flatnonzero(np.isclose(self.length_ratio, ratio))
        return float(self.accuracy(scaling)[hit[0]]) if len(hit) else math.nan

    def short_accuracy(self, scaling: str) -> float:
        """The short-context accuracy: at L = L_train."""
        return self.at(scaling, 1.0)

    @property
    def compare_ratio(self) -> float:
        """The length the headline compares at: the extension's own factor when evaluated, else the longest length."""
        r = float(self.config.extend_factor)
        return r if np.any(np.isclose(self.length_ratio, r)) else float(self.length_ratio.max())

    def acceptance(self) -> dict:
        """The issue's two measurable claims on this run."""
        gain = self.at("yarn", 8.0) - self.at("none", 8.0)
        keep = self.short_accuracy("ultralong") - self.short_accuracy("none")
        return {"yarn_minus_none_at_8x": gain, "yarn_beats_none_by_50_at_8x": bool(gain >= 50) if math.isfinite(gain) else None,
                "ultralong_minus_base_at_1x": keep,
                "ultralong_keeps_1x_within_2": bool(keep >= -2) if math.isfinite(keep) else None}

    # ---- the contract --------------------------------------------------------------------------------------------
    def headline(self) -> dict[str, Figure]:
        r = self.compare_ratio
        window = self.length_ratio <= self.config.extend_factor + 1e-9
        ul = self.accuracy("ultralong")[window]
        last = -1
        return {
            "yarn_minus_none": Figure(self.at("yarn", r) - self.at("none", r), "points",
                                      f"YaRN zero-shot minus plain RoPE, needle accuracy at {r:g}× L_train"),
            "niah_ultralong": Figure(float(np.mean(ul)) if len(ul) else None, "%",
                                     f"UltraLong miniature needle accuracy, lengths ≤ {self.config.extend_factor}× L_train, all depths"),
            "ultralong_short_change": Figure(self.short_accuracy("ultralong") - self.short_accuracy("none"), "points",
                                             "UltraLong miniature minus the base model at L_train (short context)"),
            "control_short_change": Figure(self.short_accuracy("ultralong_control") - self.short_accuracy("none"), "points",
                                           "plain-RoPE control minus the base model at L_train"),
            "local_accuracy_linear": Figure(float(self.local_accuracy[self.row("linear"), last]), "%",
                                            f"linear PI: haystack tokens predicted at {self.length_ratio[last]:g}× L_train (local skill)"),
            "local_accuracy_yarn": Figure(float(self.local_accuracy[self.row("yarn"), last]), "%",
                                          f"YaRN: haystack tokens predicted at {self.length_ratio[last]:g}× L_train (local skill)"),
        }

    def details(self) -> dict:
        by = {s: i for i, s in enumerate(self.scalings)}
        return jsonable({
            "source": self.source,
            "lengths": self.lengths, "length_ratio": self.length_ratio, "depths": self.depths,
            "accuracy": {s: self.heatmap[i].mean(axis=1) for s, i in by.items()},
            "short_context_accuracy": {s: self.short_accuracy(s) for s in self.scalings},
            "local_accuracy": {s: self.local_accuracy[i] for s, i in by.items()},
            "heatmap": {s: self.heatmap[i] for s, i in by.items()},
            "scale": {s: self.scale[i] for s, i in by.items()},
            "attention_factor": {s: self.attention_factor[i] for s, i in by.items()},
            "acceptance": self.acceptance(),
            "parameters": self.parameters,
            "final_loss": {name: float(arr[-10:].mean()) if len(arr) else None for name, arr in self.curves().items()},
            "timings_s": self.timings,
            "provenance": self.provenance,
            "calculator": self.calculator.to_dict(),
        })

    def curves(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("base_answer_loss", "base_lm_loss", "ultralong_answer_loss", "ultralong_lm_loss",
                                             "control_answer_loss", "control_lm_loss")}

    def arrays(self) -> dict[str, np.ndarray]:
        return {**super().arrays(), **self.calculator.arrays()}

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        acc = {"length": self.lengths, "ratio": self.length_ratio}
        local = dict(acc)
        for i, s in enumerate(self.scalings):
            acc[s] = self.heatmap[i].mean(axis=1)
            local[s] = self.local_accuracy[i]
        c = self.calculator
        return {
            "accuracy": acc,
            "local_accuracy": local,
            "calculator_lengths": {"tokens": c.kv_lengths, "kv_cache_bytes": c.kv_cache_bytes,
                                   "attention_flops_per_token": c.attention_flops_per_token,
                                   "prefill_memory_bytes": c.prefill_memory_bytes},
            "calculator_wavelengths": {"pair": c.pair, "wavelength": c.wavelength, "scaled_wavelength": c.scaled_wavelength,
                                       "interpolation": c.interpolation, "trained_rotations": c.trained_rotations},
        }

    # ---- figures for the CLI (matplotlib) --------------------------------------------------------------------------
    def figures(self):
        return {"niah_heatmaps": self._fig_heatmaps, "accuracy_vs_length": self._fig_accuracy, "wavelengths": self._fig_wavelengths,
                "training": self._fig_training}

    def _fig_heatmaps(self, fig) -> None:
        axes = fig.subplots(1, len(self.scalings), sharey=True)
        for ax, (i, s) in zip(axes, enumerate(self.scalings)):
            im = ax.imshow(self.heatmap[i].T, origin="lower", vmin=0, vmax=100, cmap="RdYlGn", aspect="auto")
            ax.set_title(LABEL[s], fontsize=7)
            ax.set_xticks(range(len(self.lengths)), [f"{r:g}×" for r in self.length_ratio], fontsize=6)
            ax.set_xlabel("L / L_train", fontsize=7)
        axes[0].set_yticks(range(len(self.depths)), [f"{d:.2f}" for d in self.depths], fontsize=6)
        axes[0].set_ylabel("needle depth")
        fig.colorbar(im, ax=list(axes), label="accuracy [%]")

    def _fig_accuracy(self, fig) -> None:
        a1, a2 = fig.subplots(1, 2)
        for i, s in enumerate(self.scalings):
            a1.plot(self.length_ratio, self.heatmap[i].mean(axis=1), marker="o", label=LABEL[s])
            a2.plot(self.length_ratio, self.local_accuracy[i], marker="o", label=LABEL[s])
        for ax, what in ((a1, "needle accuracy [%]"), (a2, "local accuracy (haystack tokens) [%]")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("L / L_train")
            ax.set_ylabel(what)
            ax.axvline(self.config.extend_factor, color="grey", ls=":", lw=1)
        a1.legend(fontsize=6)

    def _fig_wavelengths(self, fig) -> None:
        a1, a2 = fig.subplots(1, 2)
        r = len(self.lengths) - 1
        pairs = np.arange(len(self.base_theta))
        a1.semilogy(pairs, rope.wavelengths(self.base_theta), "k-o", label="unscaled")
        for s in ("linear", "dynamic_ntk", "yarn", "llama3", "ultralong"):
            a1.semilogy(pairs, rope.wavelengths(self.theta[self.row(s), r]), marker=".", label=LABEL[s])
        a1.axhline(self.config.train_length, color="grey", ls="--", lw=1, label="L_train")
        a1.set_title(f"toy model at {self.length_ratio[r]:g}× L_train", fontsize=8)
        a1.set_xlabel("rotary pair i")
        a1.set_ylabel("wavelength λ_i [tokens]")
        a1.legend(fontsize=6)
        c = self.calculator
        a2.semilogy(c.pair, c.wavelength, "k-", label="unscaled")
        a2.semilogy(c.pair, c.scaled_wavelength, "C3-", label=f"{c.rope_parameters.get('rope_type')} (s = {c.factor:g})")
        a2.fill_between(c.pair, c.wavelength.min(), c.wavelength.max(), where=c.interpolation > 0.001, color="C3", alpha=0.12,
                        label="interpolated")
        a2.axhline(c.facts.original_window, color="grey", ls="--", lw=1, label="original window")
        a2.set_title(c.facts.name, fontsize=8)
        a2.set_xlabel("rotary pair i")
        a2.legend(fontsize=6)

    def _fig_training(self, fig) -> None:
        ax = fig.subplots()
        for name, arr in self.curves().items():
            if len(arr):
                ax.plot(np.arange(1, len(arr) + 1), arr, lw=1, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy")
        ax.legend(fontsize=7)
