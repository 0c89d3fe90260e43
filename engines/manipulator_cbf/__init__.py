"""Manipulator CBF (arXiv:2503.10164): a two-link arm kept safe through impulsive state jumps.

A planar arm (M q̈ + C q̇ + G = τ, RK4) tracks a reference trajectory that dips through a barrier while
end-effector impacts (q̇⁺ = q̇⁻ + M⁻¹JᵀΛ) hit it. Three controllers run the same scenario: computed-torque PD,
a fixed-gain HOCBF-QP and the impulsive adaptive-gain CBF-QP; plus an impulse-magnitude sweep, a batched torch
Monte Carlo and a cross-check of the QP backends (closed form, active-set enumeration, DAQP, cvxpy). The paper's
full text was not available: the adaptive law is our stated reading (engine.py), exposed as Config fields.
"""

from .backends import BACKENDS
from .bench import bench
from .config import CONTROLLERS, Config
from .engine import run, run_episode, stream
from .episode import SimulationDiverged
from .result import COLORS, LABELS, MILLI, Result

__all__ = ["BACKENDS", "COLORS", "CONTROLLERS", "LABELS", "MILLI", "Config", "Result", "SimulationDiverged", "bench", "run", "run_episode",
           "stream"]
