"""The slow, obvious implementations the fast paths are checked against (and timed beside in the bench)."""

from __future__ import annotations

from .qp import safest_torque_batched


def safest_torque_torch(rows, tau_max: float):
    """The safest-torque fallback for one state through the batched torch LP (a batch of one): the episode's
    fallback before it moved to Python floats (``qp.safest_torque``), which must return the same torque."""
    import torch

    A = torch.tensor([[[r[0], r[1]] for r in rows]], dtype=torch.float64)
    b = torch.tensor([[r[2] for r in rows]], dtype=torch.float64)
    x = safest_torque_batched(A, b, tau_max)[0]
    return float(x[0]), float(x[1])
