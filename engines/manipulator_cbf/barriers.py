"""Barrier functions and the high-order CBF constraint they put on the torque.

Every position barrier h(q) has relative degree 2, so the constraint is the HOCBF (Xiao & Belta 2019)

    ψ₁ = ḣ + k₁ h,        ψ̇₁ + k₂ ψ₁ ≥ 0,

with ḣ = ∇h·q̇ and ḧ = ∇h·q̈ + d(q, q̇), q̈ = M⁻¹(τ - Cq̇ - G). When k₁ varies in time (the adaptive
controller) ψ̇₁ = ḧ + k₁ḣ + k̇₁h, so the constraint is linear in τ:

    aᵀτ ≥ b,   a = M⁻¹∇h,   b = -(d - aᵀ(Cq̇ + G) + k₁ḣ + k̇₁h + k₂ψ₁).

Like the arm, these functions use arithmetic only and run on floats or torch tensors.
"""

from __future__ import annotations


def barrier_specs(cfg) -> list[tuple]:
    """The active barriers as ``(kind, *parameters)``; their order is the order of h in the result."""
    specs: list[tuple] = []
    if "floor" in cfg.barrier:
        specs.append(("floor", cfg.floor_y))
    if "circle" in cfg.barrier:
        specs.append(("circle", cfg.obstacle_x, cfg.obstacle_y, cfg.obstacle_r))
    if cfg.joint_limits:
        specs += [("qmin", 0, cfg.q1_min), ("qmax", 0, cfg.q1_max), ("qmin", 1, cfg.q2_min), ("qmax", 1, cfg.q2_max)]
    return specs


def barrier_units(specs) -> list[str]:
    """The unit of each h: floor p_y - y_f in m, obstacle ‖p - c‖² - r² in m², joint limits ±(q_i - q_lim) in rad."""
    return [{"floor": "m", "circle": "m²"}.get(s[0], "rad") for s in specs]


def barrier_names(specs) -> list[str]:
    names = []
    for s in specs:
        names.append({"floor": "floor", "circle": "obstacle"}.get(s[0]) or f"q{s[1] + 1} {'min' if s[0] == 'qmin' else 'max'}")
    return names


def barrier_terms(specs, q1, q2, dq1, dq2, px, py, jac, jdq):
    """For each barrier: (h, ∂h/∂q1, ∂h/∂q2, d) with ḧ = ∇h·q̈ + d.

    floor   h = p_y - y_f                ∇h = Jᵀ(0, 1)          d = (J̇q̇)_y
    circle  h = ‖p - c‖² - r²            ∇h = 2Jᵀ(p - c)        d = 2‖Jq̇‖² + 2(p - c)ᵀJ̇q̇
    joint   h = q_i - q_min | q_max - q_i  ∇h = ±e_i            d = 0
    """
    j11, j12, j21, j22 = jac
    zero = 0.0 * dq1
    out = []
    for spec in specs:
        kind = spec[0]
        if kind == "floor":
            out.append((py - spec[1], j21, j22, jdq[1]))
        elif kind == "circle":
            ex, ey = px - spec[1], py - spec[2]
            vx, vy = j11 * dq1 + j12 * dq2, j21 * dq1 + j22 * dq2
            out.append((
                ex * ex + ey * ey - spec[3] * spec[3],
                2.0 * (ex * j11 + ey * j21),
                2.0 * (ex * j12 + ey * j22),
                2.0 * (vx * vx + vy * vy) + 2.0 * (ex * jdq[0] + ey * jdq[1]),
            ))
        else:
            q = q1 if spec[1] == 0 else q2
            sign = 1.0 if kind == "qmin" else -1.0
            h = sign * (q - spec[2])
            g1 = zero + (sign if spec[1] == 0 else 0.0)
            g2 = zero + (sign if spec[1] == 1 else 0.0)
            out.append((h, g1, g2, zero))
    return out


def hocbf_row(term, minv, bias, dq1, dq2, k1, k1dot, k2):
    """The HOCBF constraint aᵀτ ≥ b for one barrier, plus h, ḣ and ψ₁ = ḣ + k₁h."""
    h, g1, g2, d = term
    i11, i12, i22 = minv
    hdot = g1 * dq1 + g2 * dq2
    a1, a2 = i11 * g1 + i12 * g2, i12 * g1 + i22 * g2
    psi1 = hdot + k1 * h
    # ψ̇₁ + k₂ψ₁ = aᵀτ + d - aᵀ(Cq̇ + G) + k₁ḣ + k̇₁h + k₂ψ₁ ≥ 0
    b = -(d - (a1 * bias[0] + a2 * bias[1]) + k1 * hdot + k1dot * h + k2 * psi1)
    return a1, a2, b, h, hdot, psi1


def jump_gain(k1_before, h, hdot, k1_nom, eps, k1_max):
    """The adaptive law at a jump: the smallest k₁ ≥ max(k₁⁻, k₁,nom) with ψ₁⁺ = ḣ⁺ + k₁h⁺ ≥ ε, capped at k1_max.

    k₁⁺ = min(k1_max, max(k₁⁻, k₁,nom, (ε - ḣ⁺)/h⁺)) for h⁺ > 0: it grows with the jump's effect on ḣ and with
    1/h, the closeness to the boundary. (For h⁺ ≤ 0 no gain helps; k₁ goes to k1_max.)
    """
    need = (eps - hdot) / h if h > 0 else k1_max
    return min(k1_max, max(k1_before, k1_nom, need))
