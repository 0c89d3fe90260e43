"""stream() and run(): the three mesons chunk by chunk, then the optional scans; snapshots carry partial results."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from engines.base import Snapshot, consume
from engines.device import cpu_threads

from .analysis import Accumulator, correct_resolution, fit_estimate, moment_estimate
from .chain import generate_chunk, propagate_chunk
from .config import ENERGIES, FRAMES, MESON_NAMES, Config
from .result import Result

MAP_EXTENT = 12.0  # fm
CENTRALITY_EDGES = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0])


def _seed(config: Config, *tags) -> int:
    """A seed per (meson, scan point) derived from config.seed, independent of chunking order elsewhere."""
    return (config.seed * 1_000_003 + zlib.crc32(repr(tags).encode())) % (2**63 - 1)


class MesonRun:
    """Accumulates one meson at one configuration; ``steps()`` yields the fraction done after each chunk."""

    def __init__(self, meson: str, n: int, config: Config, device, centrality=None, diff: str = "pt", map_bins: int | None = None):
        import torch

        self.meson, self.n, self.config, self.device = meson, n, config, device
        self.preset = config.preset()
        self.centrality = centrality
        self.diff = diff
        self.pt_edges = np.linspace(config.pt_min, config.pt_max, config.n_pt_bins + 1)
        n_diff = config.n_pt_bins if diff == "pt" else len(CENTRALITY_EDGES) - 1
        self.acc = Accumulator(config.n_bins, n_diff)
        self.map_bins = map_bins or config.map_bins
        self.map_sum = np.zeros((self.map_bins, self.map_bins))
        self.map_cnt = np.zeros((self.map_bins, self.map_bins))
        seed = _seed(config, meson, config.energy, centrality)
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.dtype = torch.float32

    def steps(self) -> Iterator[float]:
        import torch

        done = 0
        while done < self.n:
            m = min(self.config.chunk_size, self.n - done)
            chunk = generate_chunk(self.meson, m, self.config, self.preset, self.gen, self.rng, self.device, self.dtype, self.centrality)
            out = propagate_chunk(self.meson, chunk, self.config)
            surv = out["survival"].mean(-1)
            if self.diff == "pt":
                edges = torch.as_tensor(self.pt_edges, dtype=out["pt"].dtype, device=self.device)
                di = torch.bucketize(out["pt"], edges, right=True) - 1
            else:
                edges = torch.as_tensor(CENTRALITY_EDGES, dtype=out["centrality"].dtype, device=self.device)
                di = torch.bucketize(out["centrality"], edges, right=True) - 1
            self.acc.add(out["cos_theta"], out["weights"], surv, di, out["event"])
            self._map(out["x_decay"], surv)
            done += m
            yield done / self.n

    def _map(self, x_decay, surv) -> None:
        import torch

        nb = self.map_bins
        ij = ((x_decay[:, :2] + MAP_EXTENT) / (2 * MAP_EXTENT) * nb).floor().long()
        ok = ((ij >= 0) & (ij < nb)).all(-1)
        flat = ij[ok, 0] * nb + ij[ok, 1]
        s = torch.zeros(nb * nb, dtype=torch.float64, device=x_decay.device)
        c = torch.zeros(nb * nb, dtype=torch.float64, device=x_decay.device)
        s.index_add_(0, flat, surv[ok].to(torch.float64))
        c.index_add_(0, flat, torch.ones_like(surv[ok], dtype=torch.float64))
        self.map_sum += s.view(nb, nb).cpu().numpy()
        self.map_cnt += c.view(nb, nb).cpu().numpy()

    def estimates(self) -> dict:
        """Fit and moment per frame (RP corrected for the event-plane resolution), and per differential bin."""
        cfg = self.config
        fit = np.full((3, 2), np.nan)
        mom = np.full((3, 2), np.nan)
        obs = np.full((3, 2), np.nan)
        norm = np.zeros(3)
        diff = np.full((3, self.acc.n_diff, 2), np.nan)
        correct = cfg.ep_correction and cfg.ep_resolution < 1.0
        for j in range(3):
            v, e, a = fit_estimate(self.acc.hist[j], self.acc.cov[j])
            mv, me = moment_estimate(self.acc.total[j])
            obs[j] = mv, me
            norm[j] = a
            if correct and FRAMES[j] == "reaction_plane":
                v, e = correct_resolution(v, e, cfg.ep_resolution)
                mv, me = correct_resolution(mv, me, cfg.ep_resolution)
            fit[j], mom[j] = (v, e), (mv, me)
            for k in range(self.acc.n_diff):
                dv, de = moment_estimate(self.acc.sums[j, k])
                if correct and FRAMES[j] == "reaction_plane":
                    dv, de = correct_resolution(dv, de, cfg.ep_resolution)
                diff[j, k] = dv, de
        hist_err = np.sqrt(np.maximum(np.einsum("fii->fi", self.acc.cov), 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            smap = np.where(self.map_cnt > 0, self.map_sum / np.maximum(self.map_cnt, 1), np.nan)
        mean_surv = float(self.acc.count.sum() / max(self.acc.generated, 1))
        return dict(fit=fit, moment=mom, observed=obs, norm=norm, diff=diff, hist=self.acc.hist.copy(), hist_err=hist_err,
                    count=float(self.acc.count.sum()), generated=self.acc.generated, map=smap, mean_survival=mean_surv)


def _almond(config: Config) -> np.ndarray:
    """Gaussian widths (σ_x, σ_y) of the fireball at hadronization and at kinetic freeze-out, at the class's middle b."""
    import torch

    from .fireball import Medium, impact_parameter

    pre = config.preset()
    b = torch.tensor([float(impact_parameter(0.5 * (config.centrality_min + config.centrality_max), pre["sigma_nn"]))], dtype=torch.float64)
    med = Medium.for_events(b, pre, config, "cpu", torch.float64)
    out = np.zeros((2, 2))
    for k, tau in enumerate((pre["tau_chem"], pre["tau_kin"])):
        sx, sy = med.widths(torch.tensor([tau], dtype=torch.float64))
        out[k] = float(sx), float(sy)
    return out


def _assemble(config: Config, runs: dict, complete: bool, almond: np.ndarray, energy_scan=None, centrality_scan=None) -> Result:
    nb, npt, mb = config.n_bins, config.n_pt_bins, config.map_bins
    fit = np.full((3, 3, 2), np.nan)
    mom = np.full((3, 3, 2), np.nan)
    obs = np.full((3, 3, 2), np.nan)
    hist = np.zeros((3, 3, nb))
    herr = np.zeros((3, 3, nb))
    norm = np.zeros((3, 3))
    ptr = np.full((3, 3, npt, 2), np.nan)
    smap = np.full((3, mb, mb), np.nan)
    counts, generated, msurv = np.zeros(3), np.zeros(3), np.full(3, np.nan)
    for i, m in enumerate(MESON_NAMES):
        if m not in runs:
            continue
        est = runs[m].estimates()
        fit[i], mom[i], obs[i] = est["fit"], est["moment"], est["observed"]
        hist[i], herr[i], norm[i] = est["hist"], est["hist_err"], est["norm"]
        ptr[i] = est["diff"]
        smap[i] = est["map"]
        counts[i], generated[i], msurv[i] = est["count"], est["generated"], est["mean_survival"]
    kw = {"almond": almond}
    if energy_scan is not None:
        kw.update(energy_scan=energy_scan, scan_energies=np.asarray(ENERGIES))
    if centrality_scan is not None:
        kw.update(centrality_scan=centrality_scan, centrality_edges=CENTRALITY_EDGES.copy())
    return Result(config=config.to_dict(), rho00_fit=fit, rho00_moment=mom, rho00_observed=obs, counts=counts, generated=generated,
                  hist=hist, hist_err=herr, fit_norm=norm, pt_edges=np.linspace(config.pt_min, config.pt_max, npt + 1), rho00_pt=ptr,
                  survival_map=smap, map_extent=MAP_EXTENT, mean_survival=msurv, complete=complete, **kw)


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot[Result]]:
    """Generate, decay, absorb and analyse K*0, φ, ρ0; then the scan if asked. Yields after every chunk."""
    from engines.device import resolve

    config = config or Config()
    dev = resolve(device)
    scan_points = {"energy": len(ENERGIES), "centrality": 1}.get(config.scan, 0)
    total = 3 * config.n_resonances + 3 * config.scan_resonances * scan_points
    done = 0.0
    runs: dict[str, MesonRun] = {}
    almond = _almond(config)  # depends on the config only: once per stream, not per snapshot
    with cpu_threads(config.cpu_threads, dev):
        for meson in MESON_NAMES:
            run = MesonRun(meson, config.n_resonances, config, dev)
            runs[meson] = run
            for frac in run.steps():
                res = _assemble(config, runs, False, almond)
                yield Snapshot(min((done + frac * run.n) / total, 0.999), f"{meson}: {int(frac * run.n):,} resonances", res)
            done += run.n
        energy_scan = centrality_scan = None
        if config.scan == "energy":
            energy_scan = np.full((len(ENERGIES), 3, 3, 2), np.nan)
            for k, e in enumerate(ENERGIES):
                cfg_e = config.replace(energy=e)
                for i, meson in enumerate(MESON_NAMES):
                    run = MesonRun(meson, config.scan_resonances, cfg_e, dev, map_bins=8)
                    for frac in run.steps():
                        yield Snapshot(min((done + frac * run.n) / total, 0.999), f"energy scan {e} GeV: {meson}",
                                       _assemble(config, runs, False, almond, energy_scan=energy_scan))
                    done += run.n
                    energy_scan[k, i] = run.estimates()[config.scan_estimator]
        elif config.scan == "centrality":
            centrality_scan = np.full((len(CENTRALITY_EDGES) - 1, 3, 3, 2), np.nan)
            for i, meson in enumerate(MESON_NAMES):
                run = MesonRun(meson, config.scan_resonances, config, dev, centrality=(0.0, 80.0), diff="centrality", map_bins=8)
                for frac in run.steps():
                    yield Snapshot(min((done + frac * run.n) / total, 0.999), f"centrality scan: {meson}",
                                   _assemble(config, runs, False, almond, centrality_scan=centrality_scan))
                done += run.n
                centrality_scan[:, i] = np.moveaxis(run.estimates()["diff"], 0, 1)
    yield Snapshot(1.0, "done", _assemble(config, runs, True, almond, energy_scan, centrality_scan))


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))
