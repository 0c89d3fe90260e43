"""The expanding almond: optical-Glauber geometry, Bjorken + elliptic transverse flow, the hadron density.

Coordinates are those of the event (x along the impact parameter, z along the beam), in fm and fm/c.

Geometry (optical Glauber, Woods–Saxon Au: R = 6.38 fm, a = 0.535 fm, A = 197)::

    n_part(x, y; b) = T_A(x − b/2, y)(1 − e^{−σ_NN T_B}) + T_B(x + b/2, y)(1 − e^{−σ_NN T_A})
    σ_x0², σ_y0² = ⟨x²⟩, ⟨y²⟩ over n_part;  ε₀ = (σ_y0² − σ_x0²)/(σ_y0² + σ_x0²)
    centrality(b) = ∫₀ᵇ 2πb' (1 − e^{−σ_NN T_AB(b')}) db' / σ_inel

Medium (a Gaussian elliptic blast wave with Hubble-like flow; Buda–Lund-type reading of the paper's fireball)::

    σ_i(τ) = σ_i0 + β_i (τ − τ0)² / (2(τ_ch − τ0))       τ < τ_ch (flow builds up linearly)
           = σ_i(τ_ch) + β_i (τ − τ_ch)                    τ ≥ τ_ch
    β_x,y = β_T (1 ± k ε₀)                                 (in-plane flow is stronger: elliptic flow)
    u_i   = x_i/σ_i(τ) · β_i/√(1 − β_i²)                   (transverse four-velocity, β_i at one radius)
    u^μ   = (γ_T cosh η_s, u_x, u_y, γ_T sinh η_s),  γ_T = √(1 + u_x² + u_y²)   (Bjorken longitudinally)
    n(x, y, τ) = n_ch g(b) (τ_ch/τ) σ_x(τ_ch)σ_y(τ_ch)/(σ_x(τ)σ_y(τ)) exp(−x²/2σ_x² − y²/2σ_y²),  τ_ch ≤ τ ≤ τ_kin

``n`` is the density in the local rest frame; g(b) is the centre density relative to b = 0 (n_part/(σ_x0σ_y0)).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

R_AU, A_WS, A_AU = 6.38, 0.535, 197


@functools.lru_cache(maxsize=16)
def glauber_table(sigma_nn_mb: float) -> dict[str, np.ndarray]:
    """Optical-Glauber tables on a grid of impact parameters: centrality, σ_x0, σ_y0, N_part, centre density."""
    sig = sigma_nn_mb / 10.0  # fm²
    r = np.linspace(0.0, 20.0, 801)
    z = np.linspace(-20.0, 20.0, 801)
    rho = 1.0 / (1.0 + np.exp((np.sqrt(r[:, None] ** 2 + z[None, :] ** 2) - R_AU) / A_WS))
    thick = np.trapezoid(rho, z, axis=1)
    thick *= A_AU / np.trapezoid(2 * np.pi * r * thick, r)
    grid = np.linspace(-15.0, 15.0, 151)
    dx = grid[1] - grid[0]
    X, Y = np.meshgrid(grid, grid, indexing="ij")
    bs = np.linspace(0.0, 18.0, 121)
    sx, sy, npart, tab = (np.zeros_like(bs) for _ in range(4))
    for i, b in enumerate(bs):  # 121 small 2-D grids, once per σ_NN
        ta = np.interp(np.hypot(X - b / 2, Y), r, thick)
        tb = np.interp(np.hypot(X + b / 2, Y), r, thick)
        npd = ta * (1 - np.exp(-sig * tb)) + tb * (1 - np.exp(-sig * ta))
        tot = npd.sum() * dx * dx
        npart[i] = tot
        tab[i] = (ta * tb).sum() * dx * dx
        if tot > 1e-9:
            sx[i] = math.sqrt((npd * X**2).sum() * dx * dx / tot)
            sy[i] = math.sqrt((npd * Y**2).sum() * dx * dx / tot)
    sx[npart <= 1e-9] = sx[npart > 1e-9][-1]
    sy[npart <= 1e-9] = sy[npart > 1e-9][-1]
    pinel = 1 - np.exp(-sig * tab)
    dsig = 2 * np.pi * bs * pinel
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dsig[1:] + dsig[:-1]) * np.diff(bs))])
    centrality = 100.0 * cum / cum[-1]
    density = npart / (sx * sy)
    return dict(b=bs, centrality=centrality, sigma_x0=sx, sigma_y0=sy, npart=npart, centre_density=density / density[0])


def impact_parameter(centrality_percent, sigma_nn_mb: float):
    """b (fm) at a centrality percentile (numpy in, numpy out)."""
    t = glauber_table(sigma_nn_mb)
    return np.interp(centrality_percent, t["centrality"], t["b"])


@dataclass
class Medium:
    """Per-event medium parameters as torch tensors (one entry per resonance or path)."""

    sx0: object
    sy0: object
    beta_x: object
    beta_y: object
    g: object  # centre density relative to b = 0
    n_chem: float
    tau_0: float
    tau_chem: float
    tau_kin: float

    @staticmethod
    def for_events(b, preset: dict, config, device, dtype):
        """Medium of events with impact parameters ``b`` (torch)."""
        import torch

        t = glauber_table(preset["sigma_nn"])
        bn = b.detach().cpu().numpy()
        sx0 = np.interp(bn, t["b"], t["sigma_x0"])
        sy0 = np.interp(bn, t["b"], t["sigma_y0"])
        g = np.interp(bn, t["b"], t["centre_density"])
        ecc = (sy0**2 - sx0**2) / (sy0**2 + sx0**2)
        bt = preset["beta_t"]
        bx = np.clip(bt * (1 + config.flow_anisotropy * ecc), 0.0, 0.97)
        by = np.clip(bt * (1 - config.flow_anisotropy * ecc), 0.0, 0.97)

        def T(a):
            return torch.as_tensor(a, dtype=dtype, device=device)

        return Medium(T(sx0), T(sy0), T(bx), T(by), T(g), preset["n_chem"], config.tau_0, preset["tau_chem"], preset["tau_kin"])

    def take(self, idx) -> Medium:
        """The medium of each resonance/path, indexed by its event."""
        return Medium(self.sx0[idx], self.sy0[idx], self.beta_x[idx], self.beta_y[idx], self.g[idx], self.n_chem, self.tau_0,
                      self.tau_chem, self.tau_kin)

    def expand(self) -> Medium:
        """The same medium with a trailing axis, to broadcast over the decay directions of each resonance."""
        return Medium(self.sx0[..., None], self.sy0[..., None], self.beta_x[..., None], self.beta_y[..., None], self.g[..., None],
                      self.n_chem, self.tau_0, self.tau_chem, self.tau_kin)

    def widths(self, tau):
        """σ_x(τ), σ_y(τ) (see module docstring)."""
        import torch

        t0, tc = self.tau_0, self.tau_chem
        early = (tau - t0).clamp(min=0.0) ** 2 / (2 * (tc - t0))
        late = 0.5 * (tc - t0) + (tau - tc)
        grow = torch.where(tau < tc, early, late)
        return self.sx0 + self.beta_x * grow, self.sy0 + self.beta_y * grow

    def flow(self, x, y, tau):
        """Transverse four-velocity components u_x, u_y at (x, y, τ)."""
        sx, sy = self.widths(tau)
        kx = self.beta_x / (1 - self.beta_x**2).sqrt()
        ky = self.beta_y / (1 - self.beta_y**2).sqrt()
        return x / sx * kx, y / sy * ky

    def density(self, x, y, tau):
        """Local-rest-frame hadron density n(x, y, τ) in fm⁻³ (zero outside τ_ch ≤ τ ≤ τ_kin)."""
        sx, sy = self.widths(tau)
        tc = self.tau_chem
        sxc = self.sx0 + self.beta_x * 0.5 * (tc - self.tau_0)
        syc = self.sy0 + self.beta_y * 0.5 * (tc - self.tau_0)
        n = self.n_chem * self.g * (tc / tau) * (sxc * syc) / (sx * sy) * (-(x**2) / (2 * sx**2) - y**2 / (2 * sy**2)).exp()
        inside = (tau >= tc) & (tau <= self.tau_kin)
        return n * inside

    def max_radius(self):
        """A transverse radius beyond which the medium is negligible until kinetic freeze-out (4 Gaussian widths)."""
        sx, sy = self.widths(self.sx0.new_full((), self.tau_kin))
        return 4.0 * sx.maximum(sy)
