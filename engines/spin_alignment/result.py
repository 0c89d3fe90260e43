"""The result of a run: ρ00 per meson and frame (fit and moment), Δρ00, histograms, survival maps, scans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engines.base import Figure, ResultBase

from .analysis import THIRD, fit_curve
from .config import COLORS, FRAME_LABEL, FRAME_SHORT, FRAMES, MESON_LABEL, MESON_NAMES, PAPER_MAX_DEVIATION, Config

if TYPE_CHECKING:
    from .reconstruction import FileSource


def _entry(v, e, n) -> dict:
    return {"value": float(v), "error": float(e), "n": int(round(float(n)))}


def _delta(arr: np.ndarray) -> np.ndarray:
    """(..., 2) ρ00 and error -> (..., 2) Δρ00 = ρ00 − 1/3 and the same error."""
    return np.stack([arr[..., 0] - THIRD, arr[..., 1]], -1)


def _paper() -> dict[str, Figure]:
    out = {}
    for m in MESON_NAMES:
        for f in FRAMES[:2]:
            what = (f"Δρ00 of φ, {FRAME_LABEL[f]}: unaffected by rescattering (abstract)" if m == "phi" else
                    f"Δρ00 of {MESON_LABEL[m]}, {FRAME_LABEL[f]}: largest shift over √sNN = 7.7–200 GeV (abstract, UrQMD Au+Au)")
            out[f"delta_rho00_{m}_{f}"] = Figure(PAPER_MAX_DEVIATION[m][f], "", what)
    return out


@dataclass(repr=False)  # repr() is the base's: the headline beside the paper's numbers
class Result(ResultBase):
    """Arrays are indexed [meson, frame, ...] in the order of ``MESON_NAMES`` and ``FRAMES``.

    ``rho00_fit`` / ``rho00_moment``: (3, 3, 2) value and error, after the event-plane correction for the RP frame;
    ``delta_rho00``: (3, 3, 2) ρ00 − 1/3 and its error by ``config.estimator`` (what ``summary()['rho00']`` reports and
    the panel's bars draw); ``rho00_observed``: (3, 3, 2) moment estimate before that correction; ``counts``: (3,) Σ pair
    survival (expected reconstructed resonances), ``generated``: (3,) resonances in the acceptance.

    A file's result (``config.oscar``, or ``analyse_events``) has the same arrays from the decays reconstructed in the file
    (``counts`` = ``generated`` = pairs analysed; no survival map) and ``source`` saying what was read and, for a meson
    without pairs, why; the model's result has ``source = None``.
    """

    PAPER = _paper()

    config: Config
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
    source: FileSource | None = None  # the particle-list file this result comes from (None: the model)
    delta_rho00: np.ndarray = field(init=False)  # (3, 3, 2) ρ00 − 1/3 and error by config.estimator
    energy_scan_delta: np.ndarray = field(init=False)  # (n_energies, 3, 3, 2) ρ00 − 1/3 and error of the energy scan

    @classmethod
    def from_estimates(cls, config: Config, estimates: dict[str, dict], **fields) -> Result:
        """The Result of the mesons in ``estimates`` (meson -> ``Accumulator.estimates()`` plus ``map`` and
        ``mean_survival``); mesons not there yet stay NaN / empty. ``fields`` are the remaining Result fields."""
        nb, npt, mb = config.n_bins, config.n_pt_bins, config.map_bins
        fit, mom, obs = (np.full((3, 3, 2), np.nan) for _ in range(3))
        hist, herr = np.zeros((3, 3, nb)), np.zeros((3, 3, nb))
        norm = np.zeros((3, 3))
        ptr = np.full((3, 3, npt, 2), np.nan)
        smap = np.full((3, mb, mb), np.nan)
        counts, generated, msurv = np.zeros(3), np.zeros(3), np.full(3, np.nan)
        for i, m in enumerate(MESON_NAMES):
            est = estimates.get(m)
            if est is None:
                continue
            fit[i], mom[i], obs[i] = est["fit"], est["moment"], est["observed"]
            hist[i], herr[i], norm[i] = est["hist"], est["hist_err"], est["norm"]
            ptr[i] = est["diff"]
            smap[i] = est["map"]
            counts[i], generated[i], msurv[i] = est["count"], est["generated"], est["mean_survival"]
        return cls(config=config, rho00_fit=fit, rho00_moment=mom, rho00_observed=obs, counts=counts, generated=generated, hist=hist,
                   hist_err=herr, fit_norm=norm, pt_edges=np.linspace(config.pt_min, config.pt_max, npt + 1), rho00_pt=ptr,
                   survival_map=smap, mean_survival=msurv, **fields)

    def __post_init__(self) -> None:
        self.delta_rho00 = _delta(self.estimate())
        self.energy_scan_delta = _delta(self.energy_scan)

    def rho00(self, meson: str, frame: str, estimator: str = "moment") -> tuple[float, float]:
        arr = self.rho00_moment if estimator == "moment" else self.rho00_fit
        v = arr[MESON_NAMES.index(meson), FRAMES.index(frame)]
        return float(v[0]), float(v[1])

    def curve(self, i: int, j: int, rho00: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A[(1 − ρ00) + (3ρ00 − 1)cos²θ*] of meson i, frame j with the fitted A: at the fitted ρ00, or at ``rho00``."""
        return fit_curve(self.rho00_fit[i, j, 0] if rho00 is None else rho00, self.fit_norm[i, j])

    def unaligned_curve(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """The flat ρ00 = 1/3 distribution with the fitted normalisation (encloses the same area as ``curve``)."""
        return self.curve(i, j, THIRD)

    def estimate(self) -> np.ndarray:
        """(3, 3, 2) ρ00 and error by the configured estimator: what ``summary()['rho00']`` reports."""
        return self.rho00_fit if self.config.estimator == "fit" else self.rho00_moment

    def headline(self) -> dict[str, Figure]:
        """Δρ00 of each meson in the reaction and production planes: the measured counterparts of ``PAPER``."""
        out = {}
        for i, m in enumerate(MESON_NAMES):
            for j, f in enumerate(FRAMES[:2]):
                v, e = self.delta_rho00[i, j]
                where = f" in {self.source.name}" if self.source is not None else ""
                out[f"delta_rho00_{m}_{f}"] = Figure(float(v), "", f"Δρ00 of {MESON_LABEL[m]}, {FRAME_LABEL[f]}{where}", error=float(e))
        return out

    def details(self) -> dict:
        main = self.estimate()
        out: dict = {"rho00": {}, "rho00_fit": {}, "rho00_moment": {}, "delta_rho00": {}, "estimator": self.config.estimator,
                     "mean_pair_survival": {}, "generated": {}, "complete": self.complete, "config": self.config.to_dict()}
        for i, m in enumerate(MESON_NAMES):
            out["rho00"][m], out["rho00_fit"][m], out["rho00_moment"][m], out["delta_rho00"][m] = {}, {}, {}, {}
            out["mean_pair_survival"][m] = float(self.mean_survival[i])
            out["generated"][m] = int(self.generated[i])
            for j, f in enumerate(FRAMES):
                out["rho00"][m][f] = _entry(*main[i, j], self.counts[i])
                out["rho00_fit"][m][f] = _entry(*self.rho00_fit[i, j], self.counts[i])
                out["rho00_moment"][m][f] = _entry(*self.rho00_moment[i, j], self.counts[i])
                out["delta_rho00"][m][f] = float(self.delta_rho00[i, j, 0])
        if self.source is not None:
            out["source"] = self.source.to_dict()
            return out  # a file is one measurement: no scans
        scan = self.config.scan
        if scan == "energy" and len(self.scan_energies):
            out["scan"] = {"energy": [self._point({"sqrt_s_nn": float(e)}, self.energy_scan[k]) for k, e in enumerate(self.scan_energies)]}
            out["scan_estimator"] = self.config.scan_estimator
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
                    cols[f"{m}_{FRAME_SHORT[f]}_delta"] = self.energy_scan_delta[:, i, j, 0]
                    cols[f"{m}_{FRAME_SHORT[f]}_error"] = self.energy_scan_delta[:, i, j, 1]
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
                    ax.errorbar(centres, self.hist[i, j], self.hist_err[i, j], fmt=".", color=COLORS[m], ms=3)
                    c, y = self.curve(i, j)
                    ax.plot(c, y, "k-", lw=1)
                    v, e = self.rho00_fit[i, j]
                    value = f"ρ00={v:.4f}±{e:.4f}" if np.isfinite(v) else "no fit (no pairs)"
                    ax.set_title(f"{MESON_LABEL[m]} {FRAME_SHORT[f]}: {value}", fontsize=8)
                    if i == 2:
                        ax.set_xlabel("cos θ*")
            cfg = self.config
            fig.suptitle(f"{self.source.name} ({self.source.format}, {self.source.events:,} events)" if self.source is not None else
                         f"Au+Au √sNN={cfg.energy:g} GeV, {cfg.centrality_min:g}–{cfg.centrality_max:g}%, "
                         f"rescattering {'on' if cfg.rescattering else 'off'}")

        def survival(fig):
            axes = fig.subplots(1, 3)
            ext = self.map_extent
            for i, m in enumerate(MESON_NAMES):
                im = axes[i].imshow(self.survival_map[i].T, origin="lower", extent=[-ext, ext, -ext, ext], vmin=0, vmax=1, cmap="viridis")
                axes[i].set_title(f"{MESON_LABEL[m]} pair survival")
                axes[i].set_xlabel("x (in plane) [fm]")
                axes[i].set_ylabel("y [fm]")
            fig.colorbar(im, ax=axes, shrink=0.7)

        figs = {"cos_theta_histograms": histograms}
        if self.source is None:  # a file records which daughters escaped, not survival probabilities
            figs["survival_map"] = survival
        if len(self.scan_energies):
            def energy(fig):
                ax = fig.subplots()
                for i, m in enumerate(MESON_NAMES):
                    for j, (f, mk) in enumerate(zip(FRAMES[:2], ("o", "s"))):
                        v = self.energy_scan_delta[:, i, j]
                        ax.errorbar(self.scan_energies, v[:, 0], v[:, 1], marker=mk, color=COLORS[m], ls="-" if j else "--",
                                    label=f"{MESON_LABEL[m]} {FRAME_SHORT[f]}")
                        if m in ("kstar0", "rho0"):
                            ax.plot([200.0], [PAPER_MAX_DEVIATION[m][f]], marker="*", ms=12, color=COLORS[m], mec="k", ls="none")
                ax.axhline(0, color="grey", lw=0.5)
                ax.set_xscale("log")
                ax.set_xlabel("√sNN [GeV]")
                ax.set_ylabel("ρ00 − 1/3")
                ax.legend(fontsize=7, ncol=2)
                ax.set_title("stars: the abstract's maximum deviations (UrQMD)")
            figs["energy_scan"] = energy
        return figs

