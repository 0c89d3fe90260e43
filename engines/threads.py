"""The process's thread policy, chosen in one place before numpy or torch loads.

Measured on the project's shared 2-core machines: OpenMP's default spin-wait with two torch threads made
the exact 3DGS renderer 10–40× slower at moments (134 ms → 5.3 s a frame, user time in barrier spins)
and small models 10–20× slower than one thread while anything else ran. Waiting threads that sleep
(``OMP_WAIT_POLICY=PASSIVE``) removed it. So every entry point (the app, ``python -m engines``, the benches)
imports this module first (``engines/__init__`` does), and every bench reports :func:`describe` in its output.

A variable the user already set is left alone. Thread *counts* are each engine's ``cpu_threads`` field (or the
app's ``cores − 1``, see ``app/__init__``); this module only sets the wait policy.
"""

from __future__ import annotations

import os

WAIT_POLICY = "PASSIVE"


def apply() -> None:
    """Set the wait policy for OpenMP (torch, OpenBLAS's OpenMP build) unless the user chose one."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def describe() -> dict:
    """The policy in force, for a bench's report: wait policy, thread variables, torch's thread count if loaded."""
    import sys

    out = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
        out["torch_interop_threads"] = torch.get_num_interop_threads()
    return out


apply()
