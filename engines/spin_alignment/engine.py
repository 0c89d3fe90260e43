"""stream() and run(): the three mesons chunk by chunk, then the optional scans; snapshots carry partial results.

Every snapshot holds a fresh :class:`Result` (the scans' arrays copied), so the receiver owns it. ``Snapshot.changed``
names what is new since the previous snapshot: ``{"rho00"}`` while the three mesons accumulate (ρ00, Δρ00,
histograms, survival maps, counts), ``{"energy_scan"}`` or ``{"centrality_scan"}`` while a scan runs (the meson arrays
stay as they were), and nothing (anything may have changed) on the final snapshot.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engines.base import Snapshot, consume
from engines.device import cpu_threads

from .analysis import Accumulator
from .chain import generate_chunk, propagate_chunk
from .config import ENERGIES, MESON_NAMES, Config
from .oscar import read_oscar
from .reconstruction import analyse_events
from .result import Result

MAP_EXTENT = 12.0  # fm
CENTRALITY_EDGES = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0])


def seed_for(config: Config, *tags) -> int:
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
        seed = seed_for(config, meson, config.energy, centrality)
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
        """Fit and moment per frame (RP corrected for the event-plane resolution), per differential bin, and the map."""
        cfg = self.config
        est = self.acc.estimates(cfg.ep_resolution if cfg.ep_correction and cfg.ep_resolution < 1.0 else None)
        with np.errstate(invalid="ignore", divide="ignore"):
            est["map"] = np.where(self.map_cnt > 0, self.map_sum / np.maximum(self.map_cnt, 1), np.nan)
        est["mean_survival"] = float(self.acc.count.sum() / max(self.acc.generated, 1))
        return est


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


def _assemble(config: Config, estimates: dict, complete: bool, almond: np.ndarray, energy_scan=None, centrality_scan=None) -> Result:
    """A fresh Result of the mesons done so far; the scans' arrays are copied (the stream keeps filling its own)."""
    kw = {}
    if energy_scan is not None:
        kw.update(energy_scan=energy_scan.copy(), scan_energies=np.asarray(ENERGIES))
    if centrality_scan is not None:
        kw.update(centrality_scan=centrality_scan.copy(), centrality_edges=CENTRALITY_EDGES.copy())
    return Result.from_estimates(config, estimates, complete=complete, almond=almond.copy(), map_extent=MAP_EXTENT, **kw)


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot[Result]]:
    """Generate, decay, absorb and analyse K*0, φ, ρ0; then the scan if asked. Yields after every chunk.

    With ``config.oscar`` set, the file is read and analysed instead (three snapshots; the last holds its Result)."""
    from engines.device import resolve

    config = config or Config()
    dev = resolve(device)
    if config.oscar:
        yield from _file_stream(config, dev)
        return
    scan_points = {"energy": len(ENERGIES), "centrality": 1}.get(config.scan, 0)
    total = 3 * config.n_resonances + 3 * config.scan_resonances * scan_points
    done = 0.0
    estimates: dict[str, dict] = {}  # meson -> its estimates (final once the meson is done)
    almond = _almond(config)  # depends on the config only: once per stream, not per snapshot
    mesons = frozenset({"rho00"})
    with cpu_threads(config.cpu_threads, dev):
        for meson in MESON_NAMES:
            run = MesonRun(meson, config.n_resonances, config, dev)
            for frac in run.steps():
                estimates[meson] = run.estimates()
                yield Snapshot(min((done + frac * run.n) / total, 0.999), f"{meson}: {int(frac * run.n):,} resonances",
                               _assemble(config, estimates, False, almond), mesons)
            done += run.n
        energy_scan = centrality_scan = None
        if config.scan == "energy":
            energy_scan = np.full((len(ENERGIES), 3, 3, 2), np.nan)
            for k, e in enumerate(ENERGIES):
                cfg_e = config.replace(energy=e)
                for i, meson in enumerate(MESON_NAMES):
                    run = MesonRun(meson, config.scan_resonances, cfg_e, dev, map_bins=8)
                    for frac in run.steps():
                        if frac < 1.0:
                            yield Snapshot(min((done + frac * run.n) / total, 0.999), f"energy scan {e} GeV: {meson}")
                    done += run.n
                    energy_scan[k, i] = run.estimates()[config.scan_estimator]
                    yield Snapshot(min(done / total, 0.999), f"energy scan {e} GeV: {meson}",
                                   _assemble(config, estimates, False, almond, energy_scan=energy_scan), frozenset({"energy_scan"}))
        elif config.scan == "centrality":
            centrality_scan = np.full((len(CENTRALITY_EDGES) - 1, 3, 3, 2), np.nan)
            for i, meson in enumerate(MESON_NAMES):
                run = MesonRun(meson, config.scan_resonances, config, dev, centrality=(0.0, 80.0), diff="centrality", map_bins=8)
                for frac in run.steps():
                    if frac < 1.0:
                        yield Snapshot(min((done + frac * run.n) / total, 0.999), f"centrality scan: {meson}")
                done += run.n
                centrality_scan[:, i] = np.moveaxis(run.estimates()["diff"], 0, 1)
                yield Snapshot(min(done / total, 0.999), f"centrality scan: {meson}",
                               _assemble(config, estimates, False, almond, centrality_scan=centrality_scan), frozenset({"centrality_scan"}))
    yield Snapshot(1.0, "done", _assemble(config, estimates, True, almond, energy_scan, centrality_scan))


def _file_stream(config: Config, dev) -> Iterator[Snapshot[Result]]:
    """``config.oscar`` read and its decays analysed: the file's Result (see ``reconstruction``)."""
    name = Path(config.oscar).name
    yield Snapshot(0.0, f"reading {name}")
    lists = read_oscar(config.oscar)
    yield Snapshot(0.5, f"{name}: analysing {len(lists):,} particles of {lists.n_events:,} events")
    with cpu_threads(config.cpu_threads, dev):
        result = analyse_events(lists, config)
    yield Snapshot(1.0, "done", result)


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))
