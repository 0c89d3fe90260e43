"""The analysis, identical for the Monte Carlo and for transport-model files: frames, cos θ*, the ρ00 estimators.

Frames (quantization axes in the lab):

- ``reaction_plane``: the reaction-plane normal (−sin Ψ, cos Ψ, 0), Ψ the (event-)plane angle;
- ``production_plane``: the production-plane normal ẑ × p̂_V / |ẑ × p̂_V|;
- ``helicity``: the meson's direction p̂_V.

θ* is the angle between that axis and daughter 1's momentum boosted into the meson rest frame.

Estimators, with each event the independent unit (the decay directions of a resonance are correlated by construction,
and the resonances of an event share b and the event-plane error, so the errors are cluster-robust: delta method over
per-event sums):

- moment: ρ00 = (5⟨cos²θ*⟩ − 1)/2, from S = Σ w cos²θ*, W = Σ w; var(S/W) = Σ_e (s_e − R w_e)² / W²;
- weighted fit of the |cos θ*| histogram H_j to A[(1 − ρ00) + (3ρ00 − 1)⟨cos²θ*⟩_j] (⟨cos²⟩_j the bin average), linear least
  squares in (a, b) = A(1 − ρ00, 3ρ00 − 1) weighted by the bin variances, ρ00 = (a + b)/(3a + b); its error from
  the full bin covariance C = Σ_e h_e h_eᵀ of the per-event histograms.

Event-plane resolution R = ⟨cos 2(Ψ_EP − Ψ_RP)⟩ dilutes the RP-frame signal: ρ00_obs − 1/3 = (ρ00 − 1/3)(1 + 3R)/4,
exact when ⟨cos²θ_x⟩ = ⟨cos²θ_z⟩ (alignment symmetric about the RP normal); the correction inverts it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import i0e, i1e

from .config import FRAMES

THIRD = 1.0 / 3.0


def frame_axes(P, psi):
    """Unit axes (3 frames) for meson momenta P (n, 3) and plane angles psi (n,): a (3, n, 3) tensor."""
    import torch

    pt = P[:, :2].norm(dim=-1).clamp(min=1e-12)
    zero = torch.zeros_like(psi)
    rp = torch.stack([-psi.sin(), psi.cos(), zero], -1)
    pp = torch.stack([-P[:, 1] / pt, P[:, 0] / pt, zero], -1)
    hel = P / P.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return torch.stack([rp, pp, hel], 0)


def rest_frame_direction(p1, e1, p2, e2):
    """Daughter 1's unit momentum in the rest frame of the pair (pure boost from the lab)."""
    from .generator import boost, dot

    P, E = p1 + p2, e1 + e2
    m = (E * E - dot(P, P)).clamp(min=1e-12).sqrt()
    pstar, _ = boost(p1, e1, -P / m.unsqueeze(-1))
    return pstar / pstar.norm(dim=-1, keepdim=True).clamp(min=1e-15)


def intrinsic_weight(cos_theta, rho00: float):
    """W(cosθ)/(1/2) = (3/2)[(1 − ρ00) + (3ρ00 − 1)cos²θ]: reweights isotropic decays to the intrinsic ρ00."""
    return 1.5 * ((1 - rho00) + (3 * rho00 - 1) * cos_theta * cos_theta)


def vonmises_kappa(resolution: float) -> float:
    """κ with I1(κ)/I0(κ) = R, so that 2(Ψ_EP − Ψ_RP) ~ VonMises(0, κ) has ⟨cos 2ΔΨ⟩ = R."""
    if resolution >= 1.0:
        return math.inf
    lo, hi = 0.0, 1.0
    while i1e(hi) / i0e(hi) < resolution:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if i1e(mid) / i0e(mid) < resolution else (lo, mid)
    return 0.5 * (lo + hi)


def smear_event_plane(rng: np.random.Generator, psi_rp: np.ndarray, resolution: float) -> np.ndarray:
    """Ψ_EP = Ψ_RP + ΔΨ with ⟨cos 2ΔΨ⟩ = R (second-order event plane)."""
    if resolution >= 1.0:
        return psi_rp.copy()
    return psi_rp + 0.5 * rng.vonmises(0.0, vonmises_kappa(resolution), size=psi_rp.shape)


def correct_resolution(value: float, error: float, resolution: float) -> tuple[float, float]:
    """ρ00 − 1/3 = (ρ00_obs − 1/3) · 4/(1 + 3R)."""
    f = 4.0 / (1.0 + 3.0 * resolution)
    return THIRD + (value - THIRD) * f, error * f


def _cluster_sums(s, w, key, n_keys: int):
    """(S, W, Σs², Σw², Σsw) over clusters: s, w (F, n) summed per cluster ``key`` (n,) first."""
    import torch

    sc = torch.zeros(s.shape[0], n_keys, dtype=s.dtype, device=s.device)
    wc = torch.zeros_like(sc)
    sc.index_add_(1, key, s)
    wc.index_add_(1, key, w)
    return torch.stack([sc, wc, sc * sc, wc * wc, sc * wc], -1)


class Accumulator:
    """Per frame: the weighted cos θ* histogram, its per-event covariance and the moment sums (float64)."""

    def __init__(self, n_bins: int, n_diff: int = 1):
        self.n_bins, self.n_diff = n_bins, n_diff
        F = len(FRAMES)
        self.hist = np.zeros((F, n_bins))
        self.cov = np.zeros((F, n_bins, n_bins))
        self.sums = np.zeros((F, n_diff, 5))  # S, W, Σs², Σw², Σsw per differential bin, clusters = (event, bin)
        self.total = np.zeros((F, 5))  # the same over all bins, clusters = events (an event spans several bins)
        self.count = np.zeros(n_diff)  # Σ survival (expected reconstructed resonances)
        self.generated = 0

    def add(self, cos_theta, weights, survival, diff_index=None, cluster=None) -> None:
        """cos_theta, weights: (F, n, k) torch; survival: (n,) mean survival of each resonance; diff_index: (n,) bin;
        cluster: (n,) the event of each resonance — resonances of one event share b and Ψ, so the error sums run over
        events (clusters), not over single resonances."""
        import torch

        F, n, k = cos_theta.shape
        self.generated += n
        if n == 0:
            return
        dev = cos_theta.device
        c = cos_theta.to(torch.float64)
        w = weights.to(torch.float64)
        di = torch.zeros(n, dtype=torch.long, device=dev) if diff_index is None else diff_index.long()
        ok = (di >= 0) & (di < self.n_diff)
        cl = torch.arange(n, device=dev) if cluster is None else cluster.long()
        if bool((cl[1:] >= cl[:-1]).all()):  # events in order (the Monte Carlo's chunks, files): no sort needed
            _, cl = torch.unique_consecutive(cl, return_inverse=True)
        else:
            _, cl = torch.unique(cl, return_inverse=True)
        n_cl = int(cl.max()) + 1
        # the per-event histograms h_e, straight from each decay direction's (event, bin)
        idx = ((c + 1) * 0.5 * self.n_bins).long().clamp(0, self.n_bins - 1)
        key = (cl.view(1, n, 1) * self.n_bins + idx).reshape(F, -1)
        hc = torch.zeros(F, n_cl * self.n_bins, dtype=torch.float64, device=dev)
        hc.scatter_add_(1, key, w.reshape(F, -1))
        hc = hc.view(F, n_cl, self.n_bins)
        self.hist += hc.sum(1).cpu().numpy()
        self.cov += torch.einsum("fni,fnj->fij", hc, hc).cpu().numpy()
        # moment sums: every decay direction adds w cos²θ* and w to its cluster
        keep = ok.nonzero().squeeze(1)
        s_k = (w * c * c)[:, keep].reshape(F, -1)
        w_k = w[:, keep].reshape(F, -1)
        cl_k = cl[keep].repeat_interleave(k)
        per = _cluster_sums(s_k, w_k, cl_k * self.n_diff + di[keep].repeat_interleave(k), n_cl * self.n_diff)
        self.sums += per.view(F, n_cl, self.n_diff, 5).sum(1).cpu().numpy()
        self.total += _cluster_sums(s_k, w_k, cl_k, n_cl).sum(1).cpu().numpy()
        cnt = torch.zeros(self.n_diff, dtype=torch.float64, device=dev)
        cnt.index_add_(0, di[ok], survival.to(torch.float64)[ok])
        self.count += cnt.cpu().numpy()

    def estimates(self, resolution: float | None = None) -> dict:
        """Fit and moment per frame and the moment per differential bin; with ``resolution`` R < 1 the reaction-plane
        frame is corrected for the event-plane resolution (``observed`` keeps the uncorrected moment)."""
        F = len(FRAMES)
        fit, mom, obs = np.full((F, 2), np.nan), np.full((F, 2), np.nan), np.full((F, 2), np.nan)
        norm = np.zeros(F)
        diff = np.full((F, self.n_diff, 2), np.nan)
        for j in range(F):
            v, e, a = fit_estimate(self.hist[j], self.cov[j])
            mv, me = moment_estimate(self.total[j])
            obs[j] = mv, me
            norm[j] = a
            correct = resolution is not None and FRAMES[j] == "reaction_plane"
            if correct:
                v, e = correct_resolution(v, e, resolution)
                mv, me = correct_resolution(mv, me, resolution)
            fit[j], mom[j] = (v, e), (mv, me)
            for k in range(self.n_diff):
                dv, de = moment_estimate(self.sums[j, k])
                diff[j, k] = correct_resolution(dv, de, resolution) if correct else (dv, de)
        hist_err = np.sqrt(np.maximum(np.einsum("fii->fi", self.cov), 0.0))
        return dict(fit=fit, moment=mom, observed=obs, norm=norm, diff=diff, hist=self.hist.copy(), hist_err=hist_err,
                    count=float(self.count.sum()), generated=self.generated)


def moment_estimate(sums: np.ndarray) -> tuple[float, float]:
    """ρ00 = (5⟨cos²θ*⟩ − 1)/2 and its cluster-robust error from (S, W, Σs², Σw², Σsw)."""
    S, W, ss, ww, sw = sums
    if W <= 0:
        return math.nan, math.nan
    R = S / W
    var = max(ss - 2 * R * sw + R * R * ww, 0.0) / (W * W)
    return 0.5 * (5 * R - 1), 2.5 * math.sqrt(var)


def bin_cos2(n_bins: int) -> np.ndarray:
    """⟨cos²θ⟩ over each bin of [−1, 1]: (hi³ − lo³)/(3(hi − lo))."""
    e = np.linspace(-1, 1, n_bins + 1)
    return (e[1:] ** 3 - e[:-1] ** 3) / (3 * (e[1:] - e[:-1]))


def fold(n_bins: int) -> np.ndarray:
    """Matrix summing bin j of [−1, 1] with its mirror −j: the histogram of |cos θ*| (n_bins/2 rows, n_bins even)."""
    h = n_bins // 2
    F = np.zeros((h, n_bins))
    for j in range(h):
        F[j, h + j] = 1.0
        F[j, h - 1 - j] = 1.0
    return F


def fit_estimate(hist: np.ndarray, cov: np.ndarray) -> tuple[float, float, float]:
    """Weighted fit of H_j = a + b⟨cos²⟩_j to the |cos θ*| histogram: returns ρ00, its error and A = (3a + b)/2.

    Folding to |cos θ*| removes odd terms (a forward–backward asymmetry from unequal daughters such as K and π), which
    the spin-1 form cannot carry; A is per bin of the unfolded histogram.
    """
    n_full = hist.shape[0]
    if hist.sum() <= 0:
        return math.nan, math.nan, 0.0
    if n_full % 2 == 0:
        F = fold(n_full)
        hist, cov = F @ hist, F @ cov @ F.T
        c2 = bin_cos2(n_full)[n_full // 2:]
        scale = 0.5
    else:
        c2 = bin_cos2(n_full)
        scale = 1.0
    n = hist.shape[0]
    X = np.column_stack([np.ones(n), c2])
    var = np.diag(cov).copy()
    floor = max(var.max(), 1e-300) * 1e-9
    winv = 1.0 / np.maximum(var, floor)
    L = np.linalg.solve(X.T @ (X * winv[:, None]), (X * winv[:, None]).T)  # (2, n)
    a, b = L @ hist
    d = 3 * a + b
    if not (math.isfinite(d) and d > 0):  # a histogram too sparse to fit (a file with a handful of pairs)
        return math.nan, math.nan, 0.0
    rho = (a + b) / d
    g = (-2 * b / d**2) * L[0] + (2 * a / d**2) * L[1]
    return float(rho), float(math.sqrt(max(g @ cov @ g, 0.0))), float(scale * d / 2)


def fit_curve(rho00: float, norm: float, n_points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The fitted A[(1 − ρ00) + (3ρ00 − 1)cos²θ*] on a fine grid (counts per bin)."""
    c = np.linspace(-1, 1, n_points)
    return c, norm * ((1 - rho00) + (3 * rho00 - 1) * c * c)
