"""Resolve a device request (``auto``, ``cpu``, ``cuda``, ``cuda:N``) to a torch device.

``auto`` is CUDA when torch sees a CUDA device, else the CPU. Engines compute on the resolved device
and hand numpy arrays to their snapshots.
"""

from __future__ import annotations

import contextlib

DEVICES = ("auto", "cpu", "cuda")


def resolve(device: str = "auto"):
    import torch

    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but torch sees no CUDA device (allowed: auto, cpu)")
        return torch.device(name)
    raise ValueError(f"device: unknown device {device!r} (allowed: {', '.join(DEVICES)})")


@contextlib.contextmanager
def cpu_threads(n: int, device):
    """torch's CPU thread count set to ``n`` for the block on a CPU ``device`` (0 = leave it), restored after."""
    import torch

    if n <= 0 or torch.device(device).type != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def describe(device: str = "auto") -> str:
    """A short human name: ``CPU`` or the CUDA device's name."""
    import torch

    dev = resolve(device)
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    return "CPU"


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())
