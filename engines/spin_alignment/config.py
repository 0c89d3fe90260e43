"""Configuration of the ρ00 rescattering Monte Carlo: the Config dataclass, the beam-energy presets, the mesons.

Presets (one row per √sNN of the RHIC beam-energy scan) give the bulk properties of the hadronic phase.
They are order-of-magnitude inputs, not fits, chosen once and never tuned per test:

- ``t_chem`` chemical freeze-out temperature and ``t_kin`` kinetic freeze-out temperature (GeV): STAR BES
  bulk properties, Phys. Rev. C 96, 044904 (2017) (statistical-model and blast-wave fits, mid-central);
- ``beta_t`` transverse flow velocity at one Gaussian radius: the blast-wave ⟨β⟩ of the same paper;
- ``tau_chem`` hadronization proper time and ``tau_kin`` kinetic freeze-out proper time (fm/c): the
  hadronic-phase duration grows from 5 fm/c at 7.7 GeV to 9 fm/c at 200 GeV, UrQMD-like decoupling of the bulk
  (the trend, not the size, of the STAR K*0/K lifetime lower limits, Phys. Rev. C 107, 034907 (2023));
- ``n_chem`` hadron density in the local rest frame at the fireball centre at chemical freeze-out for a
  central collision (fm⁻³): a hadron-resonance-gas estimate at ``t_chem`` (pions + kaons + nucleons and
  their resonances, ≈0.45 fm⁻³ at 164 MeV);
- ``sigma_nn`` inelastic nucleon–nucleon cross section (mb) for the optical Glauber geometry (PDG).

The mesons carry PDG 2024 masses and widths; cτ = ħc/Γ gives 4.17 fm (K*0), 46.4 fm (φ), 1.32 fm (ρ0).
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.base import ConfigBase, param

HBARC = 0.1973269804  # GeV fm

ENERGIES = (7.7, 11.5, 14.5, 19.6, 27.0, 39.0, 62.4, 200.0)

#                 t_chem  t_kin  beta_t tau_chem tau_kin n_chem sigma_nn
PRESETS: dict[float, dict[str, float]] = {
    7.7: dict(t_chem=0.144, t_kin=0.116, beta_t=0.46, tau_chem=4.5, tau_kin=9.5, n_chem=0.34, sigma_nn=30.8),
    11.5: dict(t_chem=0.149, t_kin=0.118, beta_t=0.47, tau_chem=4.8, tau_kin=10.4, n_chem=0.36, sigma_nn=31.2),
    14.5: dict(t_chem=0.151, t_kin=0.117, beta_t=0.49, tau_chem=5.0, tau_kin=11.0, n_chem=0.37, sigma_nn=31.5),
    19.6: dict(t_chem=0.153, t_kin=0.113, beta_t=0.50, tau_chem=5.2, tau_kin=11.7, n_chem=0.38, sigma_nn=32.0),
    27.0: dict(t_chem=0.155, t_kin=0.111, beta_t=0.52, tau_chem=5.5, tau_kin=12.5, n_chem=0.39, sigma_nn=33.0),
    39.0: dict(t_chem=0.156, t_kin=0.108, beta_t=0.54, tau_chem=5.8, tau_kin=13.3, n_chem=0.40, sigma_nn=34.0),
    62.4: dict(t_chem=0.160, t_kin=0.100, beta_t=0.56, tau_chem=6.2, tau_kin=14.3, n_chem=0.42, sigma_nn=36.0),
    200.0: dict(t_chem=0.164, t_kin=0.095, beta_t=0.59, tau_chem=7.0, tau_kin=16.0, n_chem=0.45, sigma_nn=42.0),
}

MESON_NAMES = ("kstar0", "phi", "rho0")
FRAMES = ("reaction_plane", "production_plane", "helicity")

# how the mesons and frames are written on screen and in file names (the panel and the figures use the same ones)
MESON_LABEL = {"kstar0": "K*0", "phi": "φ", "rho0": "ρ0"}
FRAME_LABEL = {"reaction_plane": "reaction plane", "production_plane": "production plane", "helicity": "helicity"}
FRAME_SHORT = {"reaction_plane": "RP", "production_plane": "PP", "helicity": "helicity"}
COLORS = {"kstar0": "#1f77b4", "phi": "#2ca02c", "rho0": "#d62728"}

M_PION = 0.13957039
M_KAON = 0.493677

# name: (pdg, mass GeV, width GeV, daughter-1 pdg, daughter-1 mass, daughter-2 pdg, daughter-2 mass)
# θ* is measured with daughter 1 (the kaon for K*0, K+ for φ, π+ for ρ0).
MESONS: dict[str, tuple[int, float, float, int, float, int, float]] = {
    "kstar0": (313, 0.89555, 0.0473, 321, M_KAON, -211, M_PION),
    "phi": (333, 1.019461, 0.004249, 321, M_KAON, -321, M_KAON),
    "rho0": (113, 0.77526, 0.1491, 211, M_PION, -211, M_PION),
}

# The abstract's maximum deviations Δρ00 = ρ00 − 1/3 (UrQMD, Au+Au), for comparison only.
PAPER_MAX_DEVIATION = {
    "kstar0": {"reaction_plane": -0.0056, "production_plane": 0.0268},
    "rho0": {"reaction_plane": -0.0122, "production_plane": 0.0414},
    "phi": {"reaction_plane": 0.0, "production_plane": 0.0},
}

PRESET_FIELDS = ("t_chem", "t_kin", "beta_t", "tau_chem", "tau_kin", "n_chem", "sigma_nn")

# The most path-node evaluations (resonances × decay directions × quadrature nodes) a job may ask for: 3 × 10⁷ resonances
# with the default 6 directions and 16 nodes, about 4–5 minutes on one core of the project's shared 2-core machines.
MAX_WORK = 3 * 10_000_000 * 6 * 16


@dataclass(frozen=True)
class Config(ConfigBase):
    """One Au+Au run: geometry and medium from the √sNN preset, K*0/φ/ρ0 generated, decayed, absorbed, analysed.

    Readings where the paper leaves a detail open (each one a field):

    - ``intrinsic_frame="each"``: the intrinsic ρ00 is imposed along the *true* quantization axis of whichever
      frame is analysed (reaction-plane normal, production-plane normal, helicity axis), by weighting the
      decay directions; a single fixed frame can be chosen instead.
    - ``emission="chemical_freezeout"``: resonances are born at hadronization (τ = ``tau_chem``) and their
      daughters cross the whole hadronic phase; ``hadronic_phase`` spreads births uniformly in τ up to kinetic
      freeze-out (a crude stand-in for regeneration of late resonances, which this model otherwise lacks).
    - ``rate_frame="local_rest"``: the daughter's collision rate σ n v_rel is evaluated in the local rest frame
      of the expanding medium (Bjorken + transverse flow). ``lab`` (rate from lab density and lab speed) and
      ``static`` (no flow in the rate) exist to show the wrong sign the paper's mechanism forbids.
    """

    energy: float = param(200.0, "Au+Au collision energy √sNN; selects the bulk-property preset", unit="GeV", choices=ENERGIES,
                          group="Collision")
    centrality_min: float = param(20.0, "Lower edge of the centrality class (optical Glauber, Woods–Saxon Au)", unit="%", lo=0.0,
                                  hi=90.0, group="Collision")
    centrality_max: float = param(60.0, "Upper edge of the centrality class", unit="%", lo=0.0, hi=90.0, group="Collision")

    rescattering: bool = param(True, "Absorb decay daughters with probability 1 − exp(−∫σ n v_rel dt) along their paths",
                               group="Rescattering")
    rate_frame: str = param("local_rest", "Frame of the collision rate: local rest frame of the flowing medium (physical), lab "
                            "density × lab speed, or a static medium", choices=("local_rest", "lab", "static"), group="Rescattering")
    sigma_pion: float = param(40.0, "Effective absorption cross section of a decay pion in the hadron gas", unit="mb", lo=0.0,
                              hi=200.0, group="Rescattering")
    sigma_kaon: float = param(25.0, "Effective absorption cross section of a decay kaon in the hadron gas", unit="mb", lo=0.0,
                              hi=200.0, group="Rescattering")
    emission: str = param("chemical_freezeout", "When resonances are born: at hadronization, or uniformly through the hadronic phase",
                          choices=("chemical_freezeout", "hadronic_phase"), group="Rescattering")

    intrinsic_rho00: float = param(1.0 / 3.0, "Spin alignment the resonances are born with (1/3 = unpolarised)", lo=0.0, hi=1.0,
                                   group="Spin")
    intrinsic_frame: str = param("each", "Axis of the intrinsic ρ00: the true axis of each analysed frame, or one fixed frame",
                                 choices=("each",) + FRAMES, group="Spin")

    y_max: float = param(1.0, "Rapidity acceptance |y| < y_max of the vector meson", lo=0.05, hi=3.0, group="Acceptance")
    pt_min: float = param(0.0, "Lower edge of the vector-meson pT window", unit="GeV", lo=0.0, hi=10.0, group="Acceptance")
    pt_max: float = param(5.0, "Upper edge of the vector-meson pT window", unit="GeV", lo=0.05, hi=20.0, group="Acceptance")
    ep_resolution: float = param(1.0, "Second-order event-plane resolution R = ⟨cos 2(Ψ_EP − Ψ_RP)⟩; 1 = reaction plane known",
                                 lo=0.05, hi=1.0, group="Acceptance")
    ep_correction: bool = param(True, "Correct the RP-frame ρ00 for the resolution: ρ00 − 1/3 = (ρ00_obs − 1/3)·4/(1 + 3R)",
                                group="Acceptance")

    n_resonances: int = param(300_000, "Resonances generated per meson species (before the pT cut)", lo=100, hi=10_000_000,
                              group="Statistics")
    decay_directions: int = param(6, "Decay directions per resonance: 1 = plain Monte Carlo; 3 = a random orthogonal triad; 6 = "
                                  "the triad with both daughter orientations (unbiased variance reduction)", choices=(1, 3, 6),
                                  group="Statistics")
    seed: int = param(7, "Seed of every random number in the run", lo=0, hi=2**31 - 1, group="Statistics")
    scan: str = param("none", "Extra scan of ρ00 − 1/3: versus √sNN (all presets), pT (bins of this run) or centrality",
                      choices=("none", "energy", "pt", "centrality"), group="Statistics")
    scan_resonances: int = param(150_000, "Resonances per meson at each point of an energy or centrality scan", lo=100,
                                 hi=2_000_000, group="Statistics")

    estimator: str = param("fit", "Which estimate summary['rho00'] and the panel's Δρ00 bars report: the weighted fit of the "
                           "cos θ* histogram, or the moment (5⟨cos²θ*⟩ − 1)/2 (both are always computed)", choices=("fit", "moment"),
                           group="Analysis")
    # The scan compares shifts that differ by ~1e-4 between neighbouring energies. With the decay-direction triads the moment's
    # only noise is the survival weights', ~3e-5 at the default scan statistics; the fit's histogram noise, ~1.3e-4, hides the
    # K*0 reaction-plane trend below 62 GeV (Spearman 0.17 against 0.9+ with the moment, 150,000 resonances per point).
    scan_estimator: str = param("moment", "Which estimate the energy scan reports: the moment (resolves differences of ~1e-4 "
                                "between energies) or the weighted fit (its histogram noise, ~1e-4, hides the smallest trends)",
                                choices=("moment", "fit"), group="Analysis")
    n_bins: int = param(20, "cos θ* histogram bins on [−1, 1] (the fit folds an even number of them to |cos θ*|)", lo=4,
                         hi=200, group="Analysis", gui=False)
    n_pt_bins: int = param(6, "pT bins of the pT-differential ρ00 between pt_min and pt_max", lo=1, hi=50, group="Analysis", gui=False)
    map_bins: int = param(48, "Bins per axis of the transverse survival map", lo=8, hi=256, group="Analysis", gui=False)
    resonances_per_event: int = param(25, "Resonances per meson species sharing one event (one b, one Ψ_RP)", lo=1, hi=10_000,
                                      group="Statistics", gui=False)
    chunk_size: int = param(32_768, "Resonances processed at once (bounds memory: ≈ 2.5 GB at the maximum with 200 bins and one "
                            "resonance per event)", lo=256, hi=262_144, group="Statistics", gui=False)
    quad_nodes: int = param(16, "Gauss–Legendre nodes of the path integral ∫σ n v_rel dt", lo=2, hi=128, group="Rescattering",
                            gui=False)
    flow_anisotropy: float = param(0.1, "Elliptic flow: β_x,y = β_T(1 ± k·ε₀) with ε₀ the initial participant eccentricity", lo=0.0,
                                   hi=2.0, group="Fireball", gui=False)
    tau_0: float = param(0.6, "Formation proper time where the transverse expansion starts", unit="fm/c", lo=0.05, hi=3.0,
                         group="Fireball", gui=False)
    t_chem: float | None = param(None, "Override the preset chemical freeze-out temperature", unit="GeV", lo=0.05, hi=0.3,
                                 group="Fireball", gui=False)
    t_kin: float | None = param(None, "Override the preset kinetic freeze-out temperature", unit="GeV", lo=0.05, hi=0.3,
                                group="Fireball", gui=False)
    beta_t: float | None = param(None, "Override the preset transverse flow velocity at one Gaussian radius", lo=0.0, hi=0.95,
                                 group="Fireball", gui=False)
    tau_chem: float | None = param(None, "Override the preset hadronization proper time", unit="fm/c", lo=0.5, hi=50.0,
                                   group="Fireball", gui=False)
    tau_kin: float | None = param(None, "Override the preset kinetic freeze-out proper time", unit="fm/c", lo=0.5, hi=100.0,
                                  group="Fireball", gui=False)
    n_chem: float | None = param(None, "Override the preset central hadron density at chemical freeze-out", unit="1/fm³", lo=0.0,
                                 hi=5.0, group="Fireball", gui=False)
    sigma_nn: float | None = param(None, "Override the preset inelastic NN cross section of the Glauber geometry", unit="mb",
                                   lo=1.0, hi=100.0, group="Fireball", gui=False)

    oscar: str = param("", "An OSCAR particle list (OSCAR2013, OSCAR2013 Extended or OSC1999A, e.g. SMASH's particle_lists.oscar) "
                       "to analyse instead of the Monte Carlo, with this acceptance, binning and estimator; empty = the model",
                       group="Input", gui=False)

    cpu_threads: int = param(1, "torch CPU threads while this engine computes (0 = leave torch's setting); 1 keeps the "
                             "vectorised-versus-loop bench a single-core comparison and avoids thread thrashing on a busy machine",
                             lo=0, hi=256, group="Statistics", gui=False)

    def validate(self) -> None:
        if len(self.oscar) > 4096 or "\x00" in self.oscar:
            raise ValueError("oscar: not a file path (allowed: a path of at most 4096 characters, no NUL)")
        if self.centrality_min >= self.centrality_max:
            raise ValueError(f"centrality_max: must exceed centrality_min={self.centrality_min} (allowed: centrality_min < centrality_max)")
        if self.pt_min >= self.pt_max:
            raise ValueError(f"pt_max: must exceed pt_min={self.pt_min} (allowed: pt_min < pt_max)")
        if not self.oscar and self.work() > MAX_WORK:
            raise ValueError(f"n_resonances: {self.work():.3g} path-node evaluations (resonances {self.resonances():,} × "
                             f"{self.decay_directions} decay directions × {self.quad_nodes} nodes) is {self.work() / MAX_WORK:.1f}× what "
                             f"finishes in minutes on a 2-core machine (allowed: at most {MAX_WORK:.3g}; lower n_resonances, "
                             "scan_resonances, decay_directions or quad_nodes)")
        p = self.preset()
        if p["tau_kin"] <= p["tau_chem"]:
            raise ValueError(f"tau_kin: kinetic freeze-out {p['tau_kin']} fm/c must come after hadronization {p['tau_chem']} fm/c "
                             "(allowed: tau_kin > tau_chem)")
        if p["tau_chem"] <= self.tau_0:
            raise ValueError(f"tau_chem: hadronization {p['tau_chem']} fm/c must come after tau_0={self.tau_0} (allowed: tau_chem > tau_0)")
        if p["t_kin"] > p["t_chem"]:
            raise ValueError(f"t_kin: {p['t_kin']} GeV exceeds t_chem={p['t_chem']} GeV (allowed: t_kin <= t_chem)")

    def resonances(self) -> int:
        """Resonances the job generates: three mesons, plus three at each scan point."""
        points = {"energy": len(ENERGIES), "centrality": 1}.get(self.scan, 0)
        return 3 * self.n_resonances + 3 * self.scan_resonances * points

    def work(self) -> int:
        """Path-node evaluations of the job (what its run time grows with): resonances × decay directions × nodes."""
        return self.resonances() * self.decay_directions * self.quad_nodes

    def preset(self) -> dict[str, float]:
        """The bulk properties in use: the √sNN preset with any override applied."""
        out = dict(PRESETS[self.energy])
        for name in PRESET_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value)
        return out
