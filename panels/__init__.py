"""The panel registry: one entry per implemented paper panel, in the order the docks appear.

A factory is imported only when its dock is built, so the registry itself imports no Qt.
Papers without a panel yet are listed in ``resources/papers.json`` and marked in Help > Papers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PanelSpec:
    id: str
    title: str
    arxiv: str
    summary: str
    engine: str
    factory: Callable[..., object]


def _lazy(module: str, cls: str) -> Callable[..., object]:
    def make(*args, **kwargs):
        return getattr(importlib.import_module(module), cls)(*args, **kwargs)

    make.__qualname__ = f"{module}.{cls}"
    make.module = module  # what the shell imports off the GUI thread before it builds the panel
    return make


PANELS: list[PanelSpec] = [
    PanelSpec(
        "manipulator_cbf",
        "Manipulator CBF",
        "2503.10164",
        "An adaptive-gain CBF-QP keeps a two-link arm safe through impulsive state jumps where fixed gains fail.",
        "manipulator_cbf",
        _lazy("panels.manipulator_cbf", "ManipulatorCbfPanel"),
    ),
    PanelSpec(
        "spin_alignment",
        "ρ00 explorer",
        "2507.00706",
        "Hadronic rescattering shifts K*0 and ρ0 spin alignment ρ00 (negative in the reaction plane, positive in the "
        "production plane) and leaves φ untouched.",
        "spin_alignment",
        _lazy("panels.spin_alignment", "SpinAlignmentPanel"),
    ),
    PanelSpec(
        "splat_viewer",
        "3DGS viewer",
        "2506.05682",
        "Sort sharing (S²) and radiance caching (RC) skip 3D Gaussian Splatting work at a small PSNR cost.",
        "splatting",
        _lazy("panels.splat_viewer", "SplatViewerPanel"),
    ),
    PanelSpec(
        "memory_pool",
        "Memory pool",
        "2506.15155",
        "eLLM's elastic memory pool lends idle activation memory to the KV cache, raising batch size and decode "
        "throughput over static partitioning.",
        "memory_pool",
        _lazy("panels.memory_pool", "MemoryPoolPanel"),
    ),
    PanelSpec(
        "rl_dashboard",
        "RL dashboard",
        "2505.16400",
        "Strictly on-policy GRPO, math-only RL then code-only RL (AceReason): math pass@1 rises over the SFT start and "
        "code follows; more updates per batch drive entropy down faster.",
        "acereason",
        _lazy("panels.rl_dashboard", "RlDashboardPanel"),
    ),
    PanelSpec(
        "cot_pass_at_k",
        "CoT-Pass@K",
        "2506.14245",
        "Pass@K credits right answers reached through wrong reasoning; CoT-Pass@K, which needs every step right, measures "
        "whether RL improved reasoning at every K.",
        "cot_pass_at_k",
        _lazy("panels.cot_pass_at_k", "CotPassAtKPanel"),
    ),
    PanelSpec(
        "sft_temperature",
        "SFT scaling & RL temperature",
        "2506.13284",
        "More SFT prompts beat more responses per prompt; a stronger SFT start stays stronger after RL while the gap "
        "narrows; the RL temperature is set where the temperature-adjusted entropy H_T meets a target.",
        "sft_temperature",
        _lazy("panels.sft_temperature", "SftTemperaturePanel"),
    ),
    PanelSpec(
        "long_cot_steering",
        "Long-CoT steering",
        "2505.17697",
        "Amplifying a few last-layer MLP activations after \"wait\" (1 + α·f(t)) and forcing \"wait\" after digit-heavy "
        "sentences, against constant amplification and forced wait alone, on a task-world Llama and SmolLM2.",
        "long_cot_steering",
        _lazy("panels.long_cot_steering", "LongCotSteeringPanel"),
    ),
    PanelSpec(
        "long_context",
        "Long-context lab",
        "2504.06214",
        "YaRN RoPE scaling keeps needle retrieval far past the trained window where plain RoPE fails, and an UltraLong-style "
        "continued training at 8× extends the window without losing short-context skill.",
        "long_context",
        _lazy("panels.long_context", "LongContextPanel"),
    ),
    PanelSpec(
        "video_preview",
        "Video DiT preview",
        "2506.05096",
        "ASTRAEA recomputes a searched budget of tokens per diffusion step (query-sparse attention, token cache) "
        "against full compute and baselines at equal compute.",
        "video_dit",
        _lazy("panels.video_preview", "VideoPreviewPanel"),
    ),
]


def spec(panel_id: str) -> PanelSpec:
    for s in PANELS:
        if s.id == panel_id:
            return s
    raise ValueError(f"panel: unknown panel {panel_id!r} (allowed: {', '.join(s.id for s in PANELS)})")
