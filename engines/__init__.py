"""Paper Workbench engines: the compute behind each panel, usable headless (``python -m engines``).

The registry maps an engine's name to a one-line description. Engines are imported on first use
(``load``), so listing them costs nothing and never pulls in torch or cvxpy.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from engines import threads as _threads  # noqa: F401  (the wait policy, before numpy or torch loads)

ENGINES: dict[str, str] = {
    "manipulator_cbf": "Two-link arm kept safe through impulsive state jumps by an adaptive-gain CBF-QP (arXiv:2503.10164)",
    "spin_alignment": "Hadronic rescattering bias on vector-meson spin alignment rho00 (arXiv:2507.00706)",
    "splatting": "3D Gaussian Splatting with Lumina's sort sharing (S2) and radiance caching (arXiv:2506.05682)",
    "memory_pool": "LLM serving memory pool: eLLM elastic memory against static partitioning (arXiv:2506.15155)",
    "acereason": "On-policy GRPO, math-only then code-only RL, in the reasoning world (AceReason, arXiv:2505.16400)",
    "cot_pass_at_k": "CoT-Pass@K: Pass@K credits lucky answers, CoT-Pass@K needs every step right (arXiv:2506.14245)",
    "sft_temperature": "SFT scaling by prompts vs responses, RL temperature by H_T (AceReason-Nemotron 1.1, arXiv:2506.13284)",
    "long_cot_steering": "Long-CoT activation control: amplify a few last-layer MLP units and force \"wait\" (arXiv:2505.17697)",
    "long_context": "Long-context lab: RoPE scalings, a real-model calculator, UltraLong-style extension in miniature (arXiv:2504.06214)",
    "video_dit": "Video DiT preview: ASTRAEA token selection, query-sparse attention, evolutionary budget search (arXiv:2506.05096)",
}


def load(name: str) -> ModuleType:
    """Import the engine package ``engines.<name>``; ValueError for an unknown name."""
    if name not in ENGINES:
        raise ValueError(f"engine: unknown engine {name!r} (allowed: {', '.join(ENGINES)})")
    return importlib.import_module(f"engines.{name}")


def sweep(name: str, grid: dict[str, list], **options):
    """Sweep engine ``name`` over ``grid`` (field -> values): see :mod:`engines.sweeps`; returns the table (a Result)."""
    from engines.sweeps import sweep as run_sweep

    return run_sweep(name, grid, **options)
