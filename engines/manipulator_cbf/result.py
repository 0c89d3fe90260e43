"""The engine's result: the three controllers' episodes, the impulse sweep, the Monte Carlo, the QP backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from engines.base import Figure, ResultBase

from .config import CONTROLLERS, Config

# how every view and figure draws the three controllers
COLORS = {"nominal": "#7f7f7f", "fixed_gain": "#d62728", "adaptive": "#1f77b4"}
LABELS = {"nominal": "nominal CT-PD", "fixed_gain": "fixed-gain HOCBF", "adaptive": "adaptive-gain CBF"}
MILLI = 1e3  # the headline and the views give h in thousandths of its unit (mm for the floor)


def _empty(*shape) -> np.ndarray:
    return np.zeros(shape)


@dataclass(repr=False)  # repr: the base prints the headline
class Result(ResultBase):
    """Arrays indexed ``[controller, step, ...]`` with controllers in ``CONTROLLERS`` order."""

    # The abstract states the claim, not numbers (the full text was not available): the adaptive-gain CBF keeps the
    # system safe (h ≥ 0) through impulsive state jumps. The scenario's impulse is our reading of its manipulator demo.
    PAPER: ClassVar[dict[str, Figure]] = {
        "adaptive_unsafe_steps": Figure(0, "steps", "adaptive-gain CBF: unsafe steps (h below 0) through the impulsive jumps "
                                                    "(the paper's claim: none, h ≥ 0 throughout)"),
        "impulse_ns": Figure(1.5, "N·s", "impact ‖Λ‖ of the paper's manipulator scenario as we read it (its numbers were not available)"),
    }

    config: Config
    barrier_names: list[str]
    h_units: list[str]  # unit of each barrier's h (m, m² or rad); ψ₁ is in that unit per second
    t: np.ndarray  # (K+1,) s
    ee_ref: np.ndarray  # (K+1, 2) m
    q: np.ndarray  # (3, K+1, 2) rad, state at the start of step k (before its jump)
    dq: np.ndarray  # (3, K+1, 2) rad/s
    ee: np.ndarray  # (3, K+1, 2) m
    tau: np.ndarray  # (3, K, 2) N·m
    tau_nom: np.ndarray  # (3, K, 2) N·m
    h: np.ndarray  # (3, K+1, nb)
    psi1: np.ndarray  # (3, K+1, nb)
    gain: np.ndarray  # (3, K+1, nb) k₁
    infeasible: np.ndarray  # (3, K) bool
    step_ms: np.ndarray  # (3, K) controller wall time per step
    impulse_t: np.ndarray  # (E,) s
    impulse_lambda: np.ndarray  # (E, 2) N·s
    episode_wall_s: np.ndarray  # (3,) wall time of each episode (simulation + control)
    sweep_ns: np.ndarray = field(default_factory=lambda: _empty(0))  # (S,) N·s
    sweep_min_h: np.ndarray = field(default_factory=lambda: _empty(3, 0))  # (3, S)
    sweep_violations: np.ndarray = field(default_factory=lambda: _empty(3, 0))  # (3, S)
    mc_min_h: np.ndarray = field(default_factory=lambda: _empty(3, 0))  # (3, N)
    mc_violations: np.ndarray = field(default_factory=lambda: _empty(3, 0))  # (3, N) steps with h < 0
    mc_h_at_impact: np.ndarray = field(default_factory=lambda: _empty(3, 0))  # (3, N)
    mc_infeasible: np.ndarray = field(default_factory=lambda: _empty(3, 0))  # (3, N)
    mc_clear_h: float = 0.1  # impacts while h ≥ this count as "clearly positive"
    backends: dict = field(default_factory=dict)
    device: str = "cpu"

    # ---- figures a user or a check wants -----------------------------------------------------------
    def controller_summary(self, c: int) -> dict:
        hmin = self.min_h_series()[c]
        err = self.ee[c] - self.ee_ref
        return dict(
            min_h=float(hmin.min()),
            violations=int((hmin < 0).sum()),
            max_abs_tau=float(np.abs(self.tau[c]).max()),
            tracking_rmse=float(np.sqrt((err**2).sum(axis=1).mean())),
            step_ms_median=float(np.median(self.step_ms[c])),
            step_ms_p99=float(np.percentile(self.step_ms[c], 99)),
            infeasible_steps=int(self.infeasible[c].sum()),
            max_gain=float(self.gain[c].max()),
            min_psi1_after_jumps=float(self.psi1[c][self.impulse_steps()].min()) if len(self.impulse_t) else None,
        )

    def elbow(self) -> np.ndarray:
        """(3, K+1, 2) m: the elbow joint, p_elbow = l1 (cos q1, sin q1) (the end effector is ``ee``)."""
        q1 = self.q[..., 0]
        return self.config.l1 * np.stack((np.cos(q1), np.sin(q1)), -1)

    def min_h_unit(self) -> str:
        """The unit of min h over the barriers: one unit, or the barriers' units joined when they differ."""
        return " | ".join(dict.fromkeys(self.h_units))

    def min_h_milli_unit(self) -> str:
        """The unit of ``MILLI``·h: mm, mrad, 10⁻³ m², or 10⁻³ (m | rad) when the barriers' units differ."""
        unit = self.min_h_unit()
        return {"m": "mm", "rad": "mrad"}.get(unit) or (f"10⁻³ ({unit})" if "|" in unit else f"10⁻³ {unit}")

    def min_h_series(self) -> np.ndarray:
        """(3, K+1): min over the barriers of h at every step, per controller (below 0: unsafe)."""
        return self.h.min(axis=2)

    def deepest_t(self, controller: str = "fixed_gain") -> float:
        """The time at which ``controller``'s smallest h occurs (for the fixed gain: deepest in the unsafe set)."""
        return float(self.t[int(np.argmin(self.min_h_series()[CONTROLLERS.index(controller)]))])

    def impulse_steps(self) -> np.ndarray:
        return np.round(self.impulse_t / self.config.dt).astype(int)

    def claim_holds(self) -> bool:
        s = {c: self.controller_summary(i) for i, c in enumerate(CONTROLLERS)}
        return s["adaptive"]["min_h"] >= 0 and s["adaptive"]["violations"] == 0 and s["fixed_gain"]["violations"] > 0 and \
            s["nominal"]["violations"] > 0

    def verdict(self) -> str:
        """The paper's claim tested on this run, in one sentence."""
        n = len(self.impulse_t)
        if self.claim_holds():
            how = "holds here: the adaptive gain stays safe where the fixed gain and the nominal controller do not"
        else:
            v = {c: self.controller_summary(i)["violations"] for i, c in enumerate(CONTROLLERS)}
            how = (f"does not hold here (unsafe steps: adaptive {v['adaptive']}, fixed gain {v['fixed_gain']}, "
                   f"nominal {v['nominal']}; the claim needs 0 for the adaptive gain and more for the other two)")
        return (f"The paper's claim {how}, through {n} impact{'' if n == 1 else 's'} of {self.config.impulse_ns:g} N·s "
                f"(deterministic RK4, dt = {self.config.dt * 1e3:g} ms).")

    def mc_histogram(self, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Histograms of the Monte Carlo's per-scenario min h on shared edges: (edges (bins+1,), counts (3, bins))."""
        lo, hi = float(np.nanmin(self.mc_min_h)), float(np.nanmax(self.mc_min_h))
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-9, bins + 1)
        return edges, np.stack([np.histogram(self.mc_min_h[i], bins=edges)[0] for i in range(len(CONTROLLERS))])

    def mc_summary(self) -> dict:
        n = self.mc_min_h.shape[1]
        if n == 0:
            return dict(scenarios=0)
        violated = self.mc_violations > 0
        clear = self.mc_h_at_impact >= self.mc_clear_h  # vacuously true without impacts (h_at_impact = inf)
        out = dict(scenarios=n, duration_s=self.config.mc_duration, clear_h=self.mc_clear_h, violation_rate={}, violation_rate_stderr={},
                   min_h_median={}, clear_impact_scenarios={}, violation_rate_clear_impacts={}, violation_rate_clear_impacts_stderr={},
                   infeasible_scenarios={})

        def stderr(p, m):  # binomial standard error of a rate p over m scenarios, √(p(1-p)/m)
            return float(np.sqrt(p * (1.0 - p) / m)) if m else None

        for i, c in enumerate(CONTROLLERS):
            out["violation_rate"][c] = float(violated[i].mean())
            out["violation_rate_stderr"][c] = stderr(out["violation_rate"][c], n)
            out["min_h_median"][c] = float(np.median(self.mc_min_h[i]))
            out["clear_impact_scenarios"][c] = m = int(clear[i].sum())
            out["violation_rate_clear_impacts"][c] = float(violated[i][clear[i]].mean()) if m else None
            out["violation_rate_clear_impacts_stderr"][c] = stderr(out["violation_rate_clear_impacts"][c], m)
            out["infeasible_scenarios"][c] = int((self.mc_infeasible[i] > 0).sum())
        return out

    def sweep_summary(self) -> dict:
        if len(self.sweep_ns) == 0:
            return dict(points=0)
        out = dict(ns=self.sweep_ns, min_h={c: self.sweep_min_h[i] for i, c in enumerate(CONTROLLERS)})
        for i, c in enumerate(CONTROLLERS):
            safe = self.sweep_violations[i] == 0
            # the largest magnitude up to which every smaller one in the sweep was safe
            last = len(safe) - 1 if safe.all() else int(np.argmin(safe)) - 1
            out[f"{c}_safe_up_to_ns"] = float(self.sweep_ns[last]) if last >= 0 else None
        return out

    def headline(self) -> dict[str, Figure]:
        """Smallest h (in thousandths of its unit) and unsafe steps of the three controllers on this scenario."""
        s = {c: self.controller_summary(i) for i, c in enumerate(CONTROLLERS)}
        unit = self.min_h_milli_unit()
        return {
            "adaptive_min_h": Figure(MILLI * s["adaptive"]["min_h"], unit, f"{LABELS['adaptive']}: smallest h"),
            "adaptive_unsafe_steps": Figure(s["adaptive"]["violations"], "steps", f"{LABELS['adaptive']}: unsafe steps"),
            "fixed_gain_min_h": Figure(MILLI * s["fixed_gain"]["min_h"], unit, f"{LABELS['fixed_gain']}: smallest h"),
            "fixed_gain_unsafe_steps": Figure(s["fixed_gain"]["violations"], "steps", f"{LABELS['fixed_gain']}: unsafe steps"),
            "nominal_min_h": Figure(MILLI * s["nominal"]["min_h"], unit, f"{LABELS['nominal']}: smallest h"),
        }

    def details(self) -> dict:
        cfg = self.config
        return dict(
            scenario=dict(barrier=cfg.barrier, barriers=self.barrier_names, h_units=self.h_units, impulse_ns=cfg.impulse_ns,
                          impulses=len(self.impulse_t), impulse_t=self.impulse_t, tau_max=cfg.tau_max, k1=cfg.k1, k2=cfg.k2, dt=cfg.dt,
                          duration=cfg.duration),
            controllers={c: self.controller_summary(i) for i, c in enumerate(CONTROLLERS)},
            claim_holds=self.claim_holds(),
            realtime_factor=float(cfg.duration / self.episode_wall_s[2]) if self.episode_wall_s[2] > 0 else None,
            qp_backends=self.backends,
            impulse_sweep=self.sweep_summary(),
            monte_carlo=self.mc_summary(),
            device=self.device,
        )

    # ---- files -------------------------------------------------------------------------------------
    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        K = len(self.t) - 1
        ts = {"t": self.t[:K]}
        for i, c in enumerate(CONTROLLERS):
            ts[f"h_{c}"] = self.h[i, :K].min(axis=1)
            ts[f"psi1_{c}"] = self.psi1[i, :K, 0]
            ts[f"gain_{c}"] = self.gain[i, :K, 0]
            ts[f"tau1_{c}"], ts[f"tau2_{c}"] = self.tau[i, :, 0], self.tau[i, :, 1]
            ts[f"ee_x_{c}"], ts[f"ee_y_{c}"] = self.ee[i, :K, 0], self.ee[i, :K, 1]
        out = {"timeseries": ts}
        if len(self.sweep_ns):
            out["impulse_sweep"] = {"impulse_ns": self.sweep_ns, **{f"min_h_{c}": self.sweep_min_h[i] for i, c in enumerate(CONTROLLERS)}}
        if self.mc_min_h.shape[1]:
            out["monte_carlo"] = {f"min_h_{c}": self.mc_min_h[i] for i, c in enumerate(CONTROLLERS)}
        return out

    def figures(self) -> dict:
        return {"barrier_timeseries": self._draw_timeseries, "arm_paths": self._draw_paths, "impulse_sweep": self._draw_sweep,
                "monte_carlo_min_h": self._draw_mc}

    def _draw_timeseries(self, fig) -> None:
        axes = fig.subplots(3, 1, sharex=True)
        K = len(self.t) - 1
        for i, c in enumerate(CONTROLLERS):
            axes[0].plot(self.t, self.min_h_series()[i], color=COLORS[c], label=LABELS[c])
            axes[1].plot(self.t, self.psi1[i, :, 0], color=COLORS[c])
            axes[2].plot(self.t[:K], self.tau[i, :, 0], color=COLORS[c])
        axes[0].axhline(0, color="k", lw=0.8)
        for ax in axes:
            for ti in self.impulse_t:
                ax.axvline(ti, color="#ff7f0e", ls=":", lw=1)
        axes[0].set_ylabel(f"min h [{self.min_h_unit()}]")
        axes[1].set_ylabel(f"ψ₁ ({self.barrier_names[0]}) [{self.h_units[0]}/s]")
        axes[2].set_ylabel("τ₁ [N·m]")
        axes[2].set_xlabel("time [s]")
        axes[0].legend(fontsize=8)
        axes[0].set_title("Barrier h, ψ₁ = ḣ + k₁h and shoulder torque (dotted: impacts)")

    def _draw_paths(self, fig) -> None:
        ax = fig.subplots()
        ax.plot(self.ee_ref[:, 0], self.ee_ref[:, 1], "k--", lw=1, label="reference")
        for i, c in enumerate(CONTROLLERS):
            ax.plot(self.ee[i, :, 0], self.ee[i, :, 1], color=COLORS[c], label=LABELS[c])
        if "floor" in self.config.barrier:
            ax.axhline(self.config.floor_y, color="#8c564b", lw=2, label="floor")
        if "circle" in self.config.barrier:
            import matplotlib.patches as mp

            ax.add_patch(mp.Circle((self.config.obstacle_x, self.config.obstacle_y), self.config.obstacle_r, color="#8c564b", alpha=0.5))
        ax.set_aspect("equal")
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.legend(fontsize=8)
        ax.set_title("End-effector paths")

    def _draw_sweep(self, fig) -> None:
        ax = fig.subplots()
        for i, c in enumerate(CONTROLLERS):
            ax.plot(self.sweep_ns, self.sweep_min_h[i], "o-", color=COLORS[c], label=LABELS[c])
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("impulse magnitude ‖Λ‖ [N·s]")
        ax.set_ylabel(f"min h after the impact [{self.min_h_unit()}]")
        if len(self.sweep_ns):
            ax.legend(fontsize=8)
        ax.set_title("Impulse-magnitude sweep (one impact at the first scheduled time)")

    def _draw_mc(self, fig) -> None:
        ax = fig.subplots()
        if self.mc_min_h.shape[1]:
            edges, counts = self.mc_histogram()
            rates = self.mc_summary()["violation_rate"]
            for i, c in enumerate(CONTROLLERS):
                ax.stairs(counts[i], edges, color=COLORS[c], lw=1.5, label=f"{LABELS[c]} (violation rate {rates[c]:.1%})")
            ax.legend(fontsize=8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(f"min h over the episode [{self.min_h_unit()}]")
        ax.set_ylabel("scenarios")
        ax.set_title(f"Monte Carlo: {self.mc_min_h.shape[1]} scenarios with random impacts")
