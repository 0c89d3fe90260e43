"""Configuration of the manipulator CBF engine: arm, reference, barrier, impulses, gains, Monte Carlo."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engines.base import ConfigBase, param

CONTROLLERS = ("nominal", "fixed_gain", "adaptive")
BARRIERS = ("floor", "circle", "floor+circle")

# Sizes a 2-core, 24 GB machine finishes in minutes (the one-state path runs about 20-60 µs a controller step in
# Python; the batch about 1 µs a row-step of CPU at large batches; an episode keeps about 0.4 kB a step per controller).
MAX_STEPS = 200_000  # one episode, duration / dt (also sweep_horizon / dt and mc_duration / dt)
MAX_SWEEP_STEPS = 1_000_000  # sweep_points × sweep_horizon / dt, per controller
MAX_MC_STEPS = 40_000_000  # mc_scenarios × mc_duration / dt (the batch has 3 × mc_scenarios rows, about 1 µs a row-step at 200k rows)
MAX_IMPULSES = 100_000  # impacts of one episode (scheduled or the Poisson mean)
MAX_MC_IMPULSES = 10_000_000  # the Monte Carlo's mean impact count, mc_scenarios × mc_rate × mc_duration
MAX_RATE_DT = 0.5  # the fastest loop rate × dt: beyond it an RK4 step with a held torque is no longer accurate


@dataclass(frozen=True)
class Config(ConfigBase):
    """A planar two-link arm in a vertical plane (base at the origin, gravity along -y, q1 from the +x axis).

    Defaults are the paper's manipulator scenario as we read it: the reference ellipse dips 0.2 m through a floor at
    y = -1.2 m and a 1.5 N·s downward impact hits the end effector at t = 0.8 s and 3.8 s while h is clearly positive;
    the adaptive controller stays safe where the fixed-gain HOCBF and the nominal controller do not.
    """

    # ---- arm --------------------------------------------------------------------------------------
    m1: float = param(1.0, "Mass of link 1", unit="kg", lo=1e-3, hi=1e3, group="Arm")
    m2: float = param(1.0, "Mass of link 2", unit="kg", lo=1e-3, hi=1e3, group="Arm")
    l1: float = param(1.0, "Length of link 1", unit="m", lo=1e-2, hi=100.0, group="Arm")
    l2: float = param(1.0, "Length of link 2", unit="m", lo=1e-2, hi=100.0, group="Arm")
    lc1: float = param(0.5, "Distance from joint 1 to the centre of mass of link 1", unit="m", lo=0.0, hi=100.0, group="Arm", gui=False)
    lc2: float = param(0.5, "Distance from joint 2 to the centre of mass of link 2", unit="m", lo=0.0, hi=100.0, group="Arm", gui=False)
    I1: float = param(0.1, "Moment of inertia of link 1 about its centre of mass", unit="kg·m²", lo=0.0, hi=1e4, group="Arm", gui=False)
    I2: float = param(0.1, "Moment of inertia of link 2 about its centre of mass", unit="kg·m²", lo=0.0, hi=1e4, group="Arm", gui=False)
    gravity: float = param(9.81, "Gravitational acceleration (acts along -y)", unit="m/s²", lo=0.0, hi=100.0, group="Arm", gui=False)
    dt: float = param(1e-3, "Control and RK4 integration step (torque held over the step)", unit="s", lo=1e-5, hi=0.05,
                      group="Arm")
    duration: float = param(6.0, "Length of the episode", unit="s", lo=0.0, lo_open=True, hi=120.0, group="Arm")
    tau_max: float = param(80.0, "Torque limit on each joint, |τ_i| ≤ tau_max, applied to all three controllers", unit="N·m", lo=0.0,
                           lo_open=True, hi=1e6, group="Arm")

    # ---- reference (nominal computed-torque PD) ---------------------------------------------------
    ref_cx: float = param(1.0, "Centre x of the end-effector reference ellipse", unit="m", lo=-200.0, hi=200.0, group="Reference",
                          gui=False)
    ref_cy: float = param(-0.8, "Centre y of the end-effector reference ellipse", unit="m", lo=-200.0, hi=200.0, group="Reference")
    ref_rx: float = param(0.5, "Half-width of the reference ellipse", unit="m", lo=0.0, hi=200.0, group="Reference", gui=False)
    ref_ry: float = param(0.6, "Half-height of the reference ellipse (it dips below the floor when cy - ry < floor_y)", unit="m", lo=0.0,
                          hi=200.0, group="Reference")
    ref_period: float = param(3.0, "Period of the reference ellipse (starts at its top, lowest at half a period)", unit="s", lo=0.1, hi=1e4,
                              group="Reference")
    elbow_up: bool = param(True, "Inverse-kinematics branch of the reference (True: q2 < 0, the elbow above the base-to-hand line)",
                           group="Reference", gui=False)
    kp: float = param(100.0, "Computed-torque proportional gain Kp (q̈ = q̈_ref + Kd ė + Kp e)", unit="1/s²", lo=0.0, hi=1e6,
                      group="Reference", gui=False)
    kd: float = param(20.0, "Computed-torque derivative gain Kd", unit="1/s", lo=0.0, hi=1e4, group="Reference", gui=False)

    # ---- barrier ----------------------------------------------------------------------------------
    barrier: str = param("floor", "Safe set: floor half-plane nᵀp ≥ d, circular obstacle ‖p-c‖² ≥ r², or both", choices=BARRIERS,
                         group="Barrier")
    floor_y: float = param(-1.2, "Height of the floor (n = (0, 1), h = p_y - floor_y)", unit="m", lo=-1e3, hi=1e3, group="Barrier")
    obstacle_x: float = param(1.35, "Centre x of the circular obstacle", unit="m", lo=-1e3, hi=1e3, group="Barrier")
    obstacle_y: float = param(-0.85, "Centre y of the circular obstacle", unit="m", lo=-1e3, hi=1e3, group="Barrier")
    obstacle_r: float = param(0.2, "Radius of the circular obstacle", unit="m", lo=0.0, lo_open=True, hi=1e3, group="Barrier")
    joint_limits: bool = param(False, "Add joint-limit barriers q_min ≤ q_i ≤ q_max (HOCBF, relative degree 2)", group="Barrier")
    q1_min: float = param(-3.0, "Lower limit of joint 1", unit="rad", lo=-100.0, hi=100.0, group="Barrier", gui=False)
    q1_max: float = param(1.5, "Upper limit of joint 1", unit="rad", lo=-100.0, hi=100.0, group="Barrier", gui=False)
    q2_min: float = param(-2.8, "Lower limit of joint 2", unit="rad", lo=-100.0, hi=100.0, group="Barrier", gui=False)
    q2_max: float = param(2.8, "Upper limit of joint 2", unit="rad", lo=-100.0, hi=100.0, group="Barrier", gui=False)

    # ---- impulses ---------------------------------------------------------------------------------
    impulse_mode: str = param("scheduled", "Impact times: periodic schedule, Poisson-random, or none",
                              choices=("scheduled", "poisson", "none"),
                              group="Impulses")
    impulse_ns: float = param(1.5, "Magnitude of the end-effector impulse ‖Λ‖ (q̇⁺ = q̇⁻ + M⁻¹JᵀΛ)", unit="N·s", lo=0.0, hi=20.0,
                              group="Impulses")
    impulse_angle_deg: float = param(-90.0, "Direction of Λ in the plane (-90 pushes straight down)", unit="deg", lo=-180.0, hi=180.0,
                                     group="Impulses")
    impulse_first: float = param(0.8, "Time of the first scheduled impact", unit="s", lo=0.0, hi=1e4, group="Impulses")
    impulse_period: float = param(3.0, "Interval between scheduled impacts", unit="s", lo=0.0, lo_open=True, hi=1e4, group="Impulses")
    impulse_rate: float = param(0.5, "Mean impact rate in Poisson mode", unit="1/s", lo=0.0, lo_open=True, hi=1e3, group="Impulses",
                                gui=False)

    # ---- gains ------------------------------------------------------------------------------------
    k1: float = param(2.0, "Nominal HOCBF gain k₁ in ψ₁ = ḣ + k₁h (the fixed-gain controller keeps it)", unit="1/s", lo=0.0, lo_open=True,
                      hi=1e4, group="Gains")
    k2: float = param(5.0, "HOCBF gain k₂ in ψ̇₁ + k₂ψ₁ ≥ 0", unit="1/s", lo=0.0, lo_open=True, hi=1e4, group="Gains")
    eps: float = param(0.05, "Adaptive law: ψ₁ ≥ eps is restored right after every jump (per barrier in h's unit per second: m/s for the "
                     "floor, m²/s for the obstacle, rad/s for joint limits)", unit="m/s", lo=0.0, hi=1e3, group="Gains")
    relax_rate: float = param(1.0, "Adaptive law: k̇₁ = -relax_rate·(k₁ - k₁,nom) between jumps", unit="1/s", lo=0.0, hi=1e4, group="Gains")
    k1_max: float = param(200.0, "Adaptive law: upper bound on k₁ after a jump", unit="1/s", lo=0.0, lo_open=True, hi=1e6, group="Gains",
                          gui=False)
    gain_rate_term: bool = param(True, "Include k̇₁·h in ψ̇₁ (leaving it out is the known mistake that makes the adaptive controller "
                                       "violate)", group="Gains", gui=False)

    # ---- Monte Carlo and sweep --------------------------------------------------------------------
    mc_scenarios: int = param(1024, "Monte Carlo scenarios (random impact times and magnitudes), 0 to skip", lo=0, hi=65536,
                              group="Monte Carlo")
    mc_duration: float = param(2.0, "Length of each Monte Carlo episode", unit="s", lo=0.0, lo_open=True, hi=60.0, group="Monte Carlo",
                               gui=False)
    mc_rate: float = param(1.0, "Mean Poisson impact rate in the Monte Carlo", unit="1/s", lo=0.0, hi=1e3, group="Monte Carlo", gui=False)
    mc_ns_lo: float = param(0.5, "Smallest Monte Carlo impulse magnitude (uniform)", unit="N·s", lo=0.0, hi=20.0, group="Monte Carlo",
                            gui=False)
    mc_ns_hi: float = param(2.0, "Largest Monte Carlo impulse magnitude (uniform)", unit="N·s", lo=0.0, hi=20.0, group="Monte Carlo",
                            gui=False)
    mc_angle_spread_deg: float = param(30.0, "Monte Carlo impulse direction: impulse_angle_deg ± this (uniform)", unit="deg", lo=0.0,
                                       hi=180.0, group="Monte Carlo", gui=False)
    sweep_points: int = param(13, "Impulse magnitudes in the sweep (0 .. sweep_ns_max), 0 to skip", lo=0, hi=200, group="Monte Carlo",
                              gui=False)
    sweep_ns_max: float = param(3.0, "Largest impulse magnitude of the sweep", unit="N·s", lo=0.0, lo_open=True, hi=20.0,
                                group="Monte Carlo", gui=False)
    sweep_horizon: float = param(1.0, "Sweep: time simulated after the single impact", unit="s", lo=0.0, lo_open=True, hi=60.0,
                                 group="Monte Carlo", gui=False)
    backend_samples: int = param(100, "QP states of the adaptive episode re-solved by every backend (agreement and latency)", lo=0,
                                 hi=10000, group="Monte Carlo", gui=False)
    mc_threads: int = param(1, "torch intra-op threads for the batched Monte Carlo on the CPU (0: torch's default). The per-step "
                                  "tensors are small, so extra threads mostly add synchronisation: on a busy 2-core machine 2 threads "
                                  "ran 5-10x slower than 1", lo=0, hi=256, group="Monte Carlo", gui=False)
    seed: int = param(0, "Seed of every random draw (Poisson impacts, Monte Carlo)", lo=0, hi=2**31 - 1, group="Monte Carlo")

    def validate(self) -> None:
        self._validate_sizes()
        reach = self.l1 + self.l2
        if self.lc1 > self.l1:
            raise ValueError(f"lc1: centre of mass beyond the link ({self.lc1} > l1 = {self.l1}) (allowed: 0 ≤ lc1 ≤ l1)")
        if self.lc2 > self.l2:
            raise ValueError(f"lc2: centre of mass beyond the link ({self.lc2} > l2 = {self.l2}) (allowed: 0 ≤ lc2 ≤ l2)")
        if self.dt > self.duration:
            raise ValueError(f"dt: step {self.dt} s is longer than the episode ({self.duration} s) (allowed: dt ≤ duration)")
        if self.k1_max < self.k1:
            raise ValueError(f"k1_max: the adaptive gain's bound {self.k1_max} 1/s is below its nominal value k1 = {self.k1} 1/s "
                             "(allowed: k1_max ≥ k1)")
        if self.mc_ns_hi < self.mc_ns_lo:
            raise ValueError(f"mc_ns_hi: {self.mc_ns_hi} is below mc_ns_lo = {self.mc_ns_lo} (allowed: mc_ns_hi ≥ mc_ns_lo)")
        if self.q1_min >= self.q1_max or self.q2_min >= self.q2_max:
            raise ValueError("q1_min: joint limits must satisfy q_min < q_max (allowed: q1_min < q1_max, q2_min < q2_max)")
        # the reference ellipse must stay inside the workspace annulus (away from the singular boundary)
        inner = abs(self.l1 - self.l2)
        radii = [math.hypot(self.ref_cx + self.ref_rx * math.cos(a), self.ref_cy + self.ref_ry * math.sin(a))
                 for a in (2 * math.pi * i / 64 for i in range(64))]
        if max(radii) > 0.98 * reach or min(radii) < inner + 0.02 * reach:
            raise ValueError(f"ref_ry: the reference ellipse leaves the reachable annulus {inner:g} < r < {reach:g} m "
                             f"(it spans r = {min(radii):.3g} .. {max(radii):.3g} m) (allowed: an ellipse inside the workspace)")
        if "floor" in self.barrier and self.floor_y >= 0.0:
            raise ValueError(f"floor_y: the floor at y = {self.floor_y} m puts the arm's base in the unsafe set (allowed: floor_y < 0)")
        if "floor" in self.barrier and self.floor_y <= -reach:
            raise ValueError(f"floor_y: the floor at y = {self.floor_y} m is out of reach ({reach} m) (allowed: -(l1 + l2) < floor_y < 0)")
        if "circle" in self.barrier:
            dist = math.hypot(self.obstacle_x, self.obstacle_y)
            if dist <= self.obstacle_r:
                raise ValueError(f"obstacle_r: the obstacle (centre {dist:.3g} m from the base, radius {self.obstacle_r} m) contains the "
                                 "arm's base (allowed: an obstacle clear of the base)")
            if dist - self.obstacle_r >= reach:
                gap = dist - self.obstacle_r
                raise ValueError(f"obstacle_x: the obstacle is unreachable (its nearest point is {gap:.3g} m from the base,"
                                 f" reach {reach} m) (allowed: an obstacle within l1 + l2 of the base)")
        # the start of the reference (the top of the ellipse) must be safe
        x0, y0 = self.ref_cx, self.ref_cy + self.ref_ry
        if "floor" in self.barrier and y0 - self.floor_y <= 0:
            raise ValueError(f"floor_y: the reference starts below the floor (y0 = {y0:g} m) (allowed: floor_y < ref_cy + ref_ry)")
        if "circle" in self.barrier and math.hypot(x0 - self.obstacle_x, y0 - self.obstacle_y) <= self.obstacle_r:
            raise ValueError("obstacle_x: the reference starts inside the obstacle (allowed: a start point outside the obstacle)")
        if self.joint_limits:  # the start's joint angles (analytic IK, the reference's branch) must be inside the limits
            c2 = max(-1.0, min(1.0, (x0 * x0 + y0 * y0 - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2)))
            q2 = -math.acos(c2) if self.elbow_up else math.acos(c2)
            q1 = math.atan2(y0, x0) - math.atan2(self.l2 * math.sin(q2), self.l1 + self.l2 * math.cos(q2))
            for name, q, lo, hi in (("q1", q1, self.q1_min, self.q1_max), ("q2", q2, self.q2_min, self.q2_max)):
                if not lo < q < hi:
                    raise ValueError(f"{name}_min: the reference starts at {name} = {q:.3g} rad, outside the joint limits [{lo:g}, {hi:g}] "
                                     f"(allowed: {name}_min < {q:.3g} < {name}_max)")

    def _validate_sizes(self) -> None:
        """Every size-like quantity bounded (see MAX_*), and a step short against the fastest loop."""
        if self.steps > MAX_STEPS:
            raise ValueError(f"dt: duration / dt = {self.steps:,} steps is more than {MAX_STEPS:,} "
                             f"(allowed: duration / dt ≤ {MAX_STEPS:,}: dt ≥ {self.duration / MAX_STEPS:.3g} s for {self.duration:g} s)")
        if self.sweep_points and self.sweep_steps > MAX_STEPS:
            raise ValueError(f"sweep_horizon: sweep_horizon / dt = {self.sweep_steps:,} steps is more than {MAX_STEPS:,} "
                             f"(allowed: sweep_horizon ≤ {MAX_STEPS * self.dt:.3g} s at dt = {self.dt:g} s)")
        if self.sweep_points * self.sweep_steps > MAX_SWEEP_STEPS:
            raise ValueError(f"sweep_points: {self.sweep_points} points × {self.sweep_steps:,} steps is more than {MAX_SWEEP_STEPS:,} "
                             f"steps per controller (allowed: sweep_points ≤ {MAX_SWEEP_STEPS // max(self.sweep_steps, 1)} here)")
        if self.mc_scenarios and self.mc_steps > MAX_STEPS:
            raise ValueError(f"mc_duration: mc_duration / dt = {self.mc_steps:,} steps is more than {MAX_STEPS:,} "
                             f"(allowed: mc_duration ≤ {MAX_STEPS * self.dt:.3g} s at dt = {self.dt:g} s)")
        if self.mc_scenarios * self.mc_steps > MAX_MC_STEPS:
            raise ValueError(f"mc_scenarios: {self.mc_scenarios:,} scenarios × {self.mc_steps:,} steps is more than {MAX_MC_STEPS:,} "
                             f"(allowed: mc_scenarios ≤ {MAX_MC_STEPS // self.mc_steps:,} here)")
        if self.mc_scenarios * self.mc_rate * self.mc_duration > MAX_MC_IMPULSES:
            raise ValueError(f"mc_rate: {self.mc_scenarios:,} scenarios × {self.mc_rate:g}/s × {self.mc_duration:g} s is more than "
                             f"{MAX_MC_IMPULSES:,} impacts (allowed: mc_scenarios × mc_rate × mc_duration ≤ {MAX_MC_IMPULSES:,})")
        if self.impulse_mode == "poisson" and self.impulse_rate * self.duration > MAX_IMPULSES:
            raise ValueError(f"impulse_rate: {self.impulse_rate:g}/s × {self.duration:g} s is more than {MAX_IMPULSES:,} impacts "
                             f"(allowed: impulse_rate × duration ≤ {MAX_IMPULSES:,})")
        if self.impulse_mode == "scheduled" and (self.duration - self.impulse_first) / self.impulse_period > MAX_IMPULSES:
            raise ValueError(f"impulse_period: an impact every {self.impulse_period:g} s is more than {MAX_IMPULSES:,} impacts "
                             f"(allowed: (duration - impulse_first) / impulse_period ≤ {MAX_IMPULSES:,})")
        rate = max(self.kd, math.sqrt(self.kp), self.k1, self.k2, self.relax_rate)
        if rate * self.dt > MAX_RATE_DT:
            raise ValueError(f"dt: the fastest loop rate max(kd, √kp, k1, k2, relax_rate) = {rate:g} 1/s times dt = {self.dt:g} s is "
                             f"{rate * self.dt:.3g} (allowed: dt ≤ {MAX_RATE_DT / rate:.3g} s)")
        if self.m1 * self.lc1**2 + self.I1 < 1e-6 or self.m2 * self.lc2**2 + self.I2 < 1e-6:
            raise ValueError("I1: a link has almost no rotational inertia about its joint (allowed: m·lc² + I ≥ 1e-6 kg·m²)")

    @property
    def steps(self) -> int:
        """Control steps of an episode, duration / dt."""
        return int(round(self.duration / self.dt))

    @property
    def sweep_steps(self) -> int:
        """Steps simulated after the sweep's single impact, sweep_horizon / dt."""
        return int(round(self.sweep_horizon / self.dt))

    @property
    def mc_steps(self) -> int:
        """Steps of each Monte Carlo episode, mc_duration / dt."""
        return int(round(self.mc_duration / self.dt))
