"""The result of a run: ρ00 per meson and frame (fit and moment), histograms, survival maps, scans."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.base import ResultBase

from .analysis import THIRD, fit_curve
from .config import FRAMES, MESON_NAMES, PAPER_MAX_DEVIATION

FRAME_LABEL = {"reaction_plane": "RP", "production_plane": "PP", "helicity": "helicity"}
MESON_LABEL = {"kstar0": "K*0", "phi": "φ", "rho0": "ρ0"}
COLOURS = {"kstar0": "#1f77b4", "phi": "#2ca02c", "rho0": "#d62728"}


def _entry(v, e, n) -> dict:
    return {"value": float(v), "error": float(e), "n": int(round(float(n)))}


@dataclass
class Result(ResultBase):
    """Arrays are indexed [meson, frame, ...] in the order of ``MESON_NAMES`` and ``FRAMES``.

    ``rho00_fit`` / ``rho00_moment``: (3, 3, 2) value and error, after the event-plane correction for the RP frame
    (``summary()['rho00']`` reports ``config['estimator']``);
    ``rho00_observed``: (3, 3, 2) moment estimate before that correction; ``counts``: (3,) Σ pair survival
    (expected reconstructed resonances), ``generated``: (3,) resonances in the acceptance.
    """

    config: dict
    rho00_fit: np.ndarray
    rho00_moment: np.ndarray
    rho00_observed: np.ndarray
    counts: np.ndarray
    generated: np.ndarray
    hist: np.ndarray  # (3, 3, n_bins) weighted counts
    hist_err: np.ndarray  # (3, 3, n_bins)
    fit_norm: np.ndarray  # (3, 3)
    pt_edges: np.ndarray
    rho00_pt: np.ndarray  # (3, 3, n_pt, 2)
    survival_map: np.ndarray  # (3, map_bins, map_bins) mean pair survival vs decay position (x along b), NaN where empty
    map_extent: float
    mean_survival: np.ndarray  # (3,)
    energy_scan: np.ndarray = field(default_factory=lambda: np.full((0, 3, 3, 2), np.nan))  # (n_energies, 3, 3, 2), scan_estimator
    scan_energies: np.ndarray = field(default_factory=lambda: np.zeros(0))
    centrality_edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    centrality_scan: np.ndarray = field(default_factory=lambda: np.full((0, 3, 3, 2), np.nan))
    almond: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan))  # (τ_ch, τ_kin) × (σ_x, σ_y) at mid-class b [fm]
    complete: bool = True

    def rho00(self, meson: str, frame: str, estimator: str = "moment") -> tuple[float, float]:
        arr = self.rho00_moment if estimator == "moment" else self.rho00_fit
        v = arr[MESON_NAMES.index(meson), FRAMES.index(frame)]
        return float(v[0]), float(v[1])

    def curve(self, i: int, j: int, rho00: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A[(1 − ρ00) + (3ρ00 − 1)cos²θ*] of meson i, frame j with the fitted A: at the fitted ρ00, or at ``rho00``."""
        return fit_curve(self.rho00_fit[i, j, 0] if rho00 is None else rho00, self.fit_norm[i, j])

    def estimate(self) -> np.ndarray:
        """(3, 3, 2) ρ00 and error by the configured estimator: what ``summary()['rho00']`` reports."""
        return self.rho00_fit if self.config.get("estimator", "fit") == "fit" else self.rho00_moment

    def summary(self) -> dict:
        est = self.config.get("estimator", "fit")
        main = self.estimate()
        out: dict = {"rho00": {}, "rho00_fit": {}, "rho00_moment": {}, "delta_rho00": {}, "paper_max_deviation": PAPER_MAX_DEVIATION,
                     "estimator": est,
                     "mean_pair_survival": {}, "generated": {}, "complete": self.complete,
                     "config": {k: v for k, v in self.config.items()}}
        for i, m in enumerate(MESON_NAMES):
            out["rho00"][m], out["rho00_fit"][m], out["rho00_moment"][m], out["delta_rho00"][m] = {}, {}, {}, {}
            out["mean_pair_survival"][m] = float(self.mean_survival[i])
            out["generated"][m] = int(self.generated[i])
            for j, f in enumerate(FRAMES):
                out["rho00"][m][f] = _entry(*main[i, j], self.counts[i])
                out["rho00_fit"][m][f] = _entry(*self.rho00_fit[i, j], self.counts[i])
                out["rho00_moment"][m][f] = _entry(*self.rho00_moment[i, j], self.counts[i])
                out["delta_rho00"][m][f] = float(main[i, j, 0] - THIRD)
        scan = self.config.get("scan", "none")
        if scan == "energy" and len(self.scan_energies):
            out["scan"] = {"energy": [self._point({"sqrt_s_nn": float(e)}, self.energy_scan[k]) for k, e in enumerate(self.scan_energies)]}
            out["scan_estimator"] = self.config.get("scan_estimator", "moment")
        elif scan == "pt":
            out["scan"] = {"pt": [self._point({"pt_min": float(self.pt_edges[k]), "pt_max": float(self.pt_edges[k + 1])},
                                              self.rho00_pt[:, :, k]) for k in range(len(self.pt_edges) - 1)]}
        elif scan == "centrality" and len(self.centrality_edges):
            out["scan"] = {"centrality": [self._point({"centrality_min": float(self.centrality_edges[k]),
                                                       "centrality_max": float(self.centrality_edges[k + 1])}, self.centrality_scan[k])
                                          for k in range(len(self.centrality_edges) - 1)]}
        return out

    @staticmethod
    def _point(head: dict, arr: np.ndarray) -> dict:
        point = dict(head)
        for i, m in enumerate(MESON_NAMES):
            point[m] = {f: {"value": float(arr[i, j, 0]), "error": float(arr[i, j, 1])} for j, f in enumerate(FRAMES)}
        return point

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        rows = {"meson": [], "frame": [], "rho00_moment": [], "error_moment": [], "rho00_fit": [], "error_fit": [], "counts": []}
        for i in range(3):
            for j in range(3):
                rows["meson"].append(i)
                rows["frame"].append(j)
                rows["rho00_moment"].append(self.rho00_moment[i, j, 0])
                rows["error_moment"].append(self.rho00_moment[i, j, 1])
                rows["rho00_fit"].append(self.rho00_fit[i, j, 0])
                rows["error_fit"].append(self.rho00_fit[i, j, 1])
                rows["counts"].append(self.counts[i])
        out = {"rho00": {k: np.asarray(v, dtype=float) for k, v in rows.items()}}
        if len(self.scan_energies):
            cols = {"sqrt_s_nn": self.scan_energies}
            for i, m in enumerate(MESON_NAMES):
                for j, f in enumerate(FRAMES):
                    cols[f"{m}_{FRAME_LABEL[f]}_delta"] = self.energy_scan[:, i, j, 0] - THIRD
                    cols[f"{m}_{FRAME_LABEL[f]}_error"] = self.energy_scan[:, i, j, 1]
            out["energy_scan"] = cols
        return out

    def figures(self) -> dict:
        def histograms(fig):
            axes = fig.subplots(3, 3, sharex=True)
            centres = np.linspace(-1, 1, self.hist.shape[-1] + 1)
            centres = 0.5 * (centres[1:] + centres[:-1])
            for i, m in enumerate(MESON_NAMES):
                for j, f in enumerate(FRAMES):
                    ax = axes[i, j]
                    ax.errorbar(centres, self.hist[i, j], self.hist_err[i, j], fmt=".", color=COLOURS[m], ms=3)
                    c, y = self.curve(i, j)
                    ax.plot(c, y, "k-", lw=1)
                    v, e = self.rho00_fit[i, j]
                    ax.set_title(f"{MESON_LABEL[m]} {FRAME_LABEL[f]}: ρ00={v:.4f}±{e:.4f}", fontsize=8)
                    if i == 2:
                        ax.set_xlabel("cos θ*")
            fig.suptitle(f"Au+Au √sNN={self.config.get('energy')} GeV, {self.config.get('centrality_min')}–"
                         f"{self.config.get('centrality_max')}%, rescattering {'on' if self.config.get('rescattering') else 'off'}")

        def survival(fig):
            axes = fig.subplots(1, 3)
            ext = self.map_extent
            for i, m in enumerate(MESON_NAMES):
                im = axes[i].imshow(self.survival_map[i].T, origin="lower", extent=[-ext, ext, -ext, ext], vmin=0, vmax=1, cmap="viridis")
                axes[i].set_title(f"{MESON_LABEL[m]} pair survival")
                axes[i].set_xlabel("x (in plane) [fm]")
                axes[i].set_ylabel("y [fm]")
            fig.colorbar(im, ax=axes, shrink=0.7)

        figs = {"cos_theta_histograms": histograms, "survival_map": survival}
        if len(self.scan_energies):
            def energy(fig):
                ax = fig.subplots()
                for i, m in enumerate(MESON_NAMES):
                    for j, (f, mk) in enumerate(zip(FRAMES[:2], ("o", "s"))):
                        v = self.energy_scan[:, i, j]
                        ax.errorbar(self.scan_energies, v[:, 0] - THIRD, v[:, 1], marker=mk, color=COLOURS[m], ls="-" if j else "--",
                                    label=f"{MESON_LABEL[m]} {FRAME_LABEL[f]}")
                        if m in ("kstar0", "rho0"):
                            ax.plot([200.0], [PAPER_MAX_DEVIATION[m][f]], marker="*", ms=12, color=COLOURS[m], mec="k", ls="none")
                ax.axhline(0, color="grey", lw=0.5)
                ax.set_xscale("log")
                ax.set_xlabel("√sNN [GeV]")
                ax.set_ylabel("ρ00 − 1/3")
                ax.legend(fontsize=7, ncol=2)
                ax.set_title("stars: the abstract's maximum deviations (UrQMD)")
            figs["energy_scan"] = energy
        return figs

