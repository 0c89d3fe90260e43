"""A straightforward per-particle numpy version of decay → absorption → cos θ*, for the bench and as a cross-check.

It takes the same generated resonances and decay directions as the torch chain and loops over them one by one:
the baseline of the bench, and an independent implementation the tests compare the vectorised chain against.
"""

from __future__ import annotations

import math

import numpy as np

from .config import MESONS

MB_TO_FM2 = 0.1


def _boost(p, e, u):
    u0 = math.sqrt(1.0 + float(u @ u))
    up = float(u @ p)
    return p + u * (e + up / (u0 + 1.0)), u0 * e + up


def _widths(tau, m):
    t0, tc = m["tau_0"], m["tau_chem"]
    grow = (max(tau - t0, 0.0) ** 2 / (2 * (tc - t0))) if tau < tc else 0.5 * (tc - t0) + (tau - tc)
    return m["sx0"] + m["bx"] * grow, m["sy0"] + m["by"] * grow


def _optical_depth(t0, x0, p, e, mass, sigma, m, nodes, weights, rate_frame):
    v = p / e
    vz, z0 = v[2], x0[2]
    a = max(1 - vz * vz, 1e-12)
    b = t0 - z0 * vz
    c = t0 * t0 - z0 * z0 - m["tau_kin"] ** 2
    s_tau = (-b + math.sqrt(max(b * b - a * c, 0.0))) / a if c < 0 else 0.0
    sxk, syk = _widths(m["tau_kin"], m)
    r_max = 4.0 * max(sxk, syk)
    vt2 = max(v[0] ** 2 + v[1] ** 2, 1e-12)
    bx = x0[0] * v[0] + x0[1] * v[1]
    disc = bx * bx - vt2 * (x0[0] ** 2 + x0[1] ** 2 - r_max**2)
    s_circ = max((-bx + math.sqrt(disc)) / vt2, 0.0) if disc > 0 else 0.0
    s_end = min(s_tau, s_circ)
    total = 0.0
    tc = m["tau_chem"]
    kx = m["bx"] / math.sqrt(1 - m["bx"] ** 2)
    ky = m["by"] / math.sqrt(1 - m["by"] ** 2)
    sxc, syc = _widths(tc, m)
    for xi, wi in zip(nodes, weights):
        s = s_end * xi
        t = t0 + s
        x, y, z = x0 + v * s
        tau = math.sqrt(max(t * t - z * z, 1e-12))
        if not (tc <= tau <= m["tau_kin"]):
            continue
        sx, sy = _widths(tau, m)
        n = m["n_chem"] * m["g"] * (tc / tau) * (sxc * syc) / (sx * sy) * math.exp(-(x * x) / (2 * sx * sx) - y * y / (2 * sy * sy))
        ux, uy = x / sx * kx, y / sy * ky
        pmag = math.sqrt(float(p @ p))
        if rate_frame == "local_rest":
            gam = math.sqrt(1 + ux * ux + uy * uy)
            udotp = gam * (t * e - z * p[2]) / tau - ux * p[0] - uy * p[1]
            rate = n * math.sqrt(max(udotp * udotp - mass * mass, 0.0)) / e
        elif rate_frame == "lab":
            rate = n * math.sqrt(1 + ux * ux + uy * uy) * t / tau * pmag / e
        else:
            rate = n * pmag / e
        total += wi * rate
    return sigma * total * s_end


def per_particle(meson: str, chunk: dict, config) -> dict:
    """Survival (n, k) and cos θ* (3, n, k) for each resonance, computed one resonance at a time in numpy (float64)."""
    from .transport import gauss_legendre

    _, _, _, d1, m1, d2, m2 = MESONS[meson]
    res = {k: v.detach().cpu().double().numpy() for k, v in chunk["res"].items()}
    dirs = chunk["dirs"].detach().cpu().double().numpy()
    med = chunk["medium"]
    mnp = {k: getattr(med, k).detach().cpu().double().numpy() for k in ("sx0", "sy0", "beta_x", "beta_y", "g")}
    psi_rp = chunk["events"]["psi_rp"]
    psi_ep = chunk["events"]["psi_ep"]
    nodes, weights = gauss_legendre(config.quad_nodes)
    sig1 = (config.sigma_kaon if abs(d1) == 321 else config.sigma_pion) * MB_TO_FM2
    sig2 = (config.sigma_kaon if abs(d2) == 321 else config.sigma_pion) * MB_TO_FM2
    n, k = dirs.shape[:2]
    survival = np.ones((n, k))
    cos = np.zeros((3, n, k))
    for r in range(n):  # the straightforward loop: one resonance, one direction at a time
        ev = int(res["events"][r])
        m = dict(sx0=mnp["sx0"][ev], sy0=mnp["sy0"][ev], bx=mnp["beta_x"][ev], by=mnp["beta_y"][ev], g=mnp["g"][ev], n_chem=med.n_chem,
                 tau_0=med.tau_0, tau_chem=med.tau_chem, tau_kin=med.tau_kin)
        P, mass = res["p"][r], res["mass"][r]
        u = P / mass
        pstar = math.sqrt(max((mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2), 0.0)) / (2 * mass)
        c, s = math.cos(psi_rp[ev]), math.sin(psi_rp[ev])
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        PL = rot @ P
        pt = math.hypot(PL[0], PL[1])
        axes = [np.array([-math.sin(psi_ep[ev]), math.cos(psi_ep[ev]), 0.0]), np.array([-PL[1] / pt, PL[0] / pt, 0.0]),
                PL / np.linalg.norm(PL)]
        for j in range(k):
            q1, q1e = _boost(dirs[r, j] * pstar, math.sqrt(pstar**2 + m1**2), u)
            q2, q2e = _boost(-dirs[r, j] * pstar, math.sqrt(pstar**2 + m2**2), u)
            if config.rescattering:
                depth = _optical_depth(res["t_decay"][r], res["x_decay"][r], q1, q1e, m1, sig1, m, nodes, weights, config.rate_frame)
                depth += _optical_depth(res["t_decay"][r], res["x_decay"][r], q2, q2e, m2, sig2, m, nodes, weights, config.rate_frame)
                survival[r, j] = math.exp(-depth)
            l1, l2 = rot @ q1, rot @ q2
            tot, tote = l1 + l2, q1e + q2e
            mm = math.sqrt(max(tote**2 - float(tot @ tot), 1e-12))
            back, _ = _boost(l1, q1e, -tot / mm)
            back /= np.linalg.norm(back)
            for f in range(3):
                cos[f, r, j] = float(back @ axes[f])
    return dict(survival=survival, cos_theta=cos)
