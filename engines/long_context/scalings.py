"""Which RoPE the toy model uses for each scaling at each evaluated length (the experiment's rows).

Zero-shot rows run the base model with ``none``, ``linear``, ``dynamic_ntk``, ``yarn`` or ``llama3`` at the scale
``s(L) = L / L_train`` (or the fixed ``eval_scale``): a scale below L/L_train leaves positions past s·L_train outside
the trained range. Dynamic NTK computes its own scale from L (``dynamic_factor`` 1 gives α = L/L_train).
``ultralong`` is the base model after continued training at ``extend_factor × L_train`` with YaRN at
``s = extend_scale``; it is evaluated with that fixed s, as a released long-context model is, and with
``max(extend_scale, s(L))`` beyond its extended window. ``ultralong_control`` had the same continued training
with plain RoPE and is evaluated with plain RoPE.
"""

from __future__ import annotations

import numpy as np

from . import rope
from .config import Config

ZERO_SHOT = ("none", "linear", "dynamic_ntk", "yarn", "llama3")
EXTENDED = ("ultralong", "ultralong_control")
SCALINGS = ZERO_SHOT + EXTENDED


def scale_at(cfg: Config, length: int) -> float:
    """s(L): the fixed eval_scale, else max(1, L / L_train)."""
    return float(cfg.eval_scale) if cfg.eval_scale is not None else max(1.0, length / cfg.train_length)


def rope_parameters(cfg: Config, kind: str, factor: float) -> dict:
    """transformers-shaped rope_parameters of the toy model for one of the zero-shot kinds at scale ``factor``."""
    base = {"rope_theta": cfg.rope_theta}
    if kind == "none":
        return {"rope_type": "default", **base}
    if kind == "linear":
        return {"rope_type": "linear", "factor": factor, **base}
    if kind == "dynamic_ntk":
        return {"rope_type": "dynamic", "factor": cfg.dynamic_factor, **base}
    if kind == "yarn":
        return {"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": cfg.train_length,
                "beta_fast": cfg.yarn_beta_fast, "beta_slow": cfg.yarn_beta_slow, "truncate": cfg.yarn_truncate, **base}
    if kind == "llama3":
        return {"rope_type": "llama3", "factor": factor, "original_max_position_embeddings": cfg.train_length,
                "low_freq_factor": cfg.llama3_low_freq, "high_freq_factor": cfg.llama3_high_freq, **base}
    raise ValueError(f"scaling: {kind!r} is not a zero-shot scaling (allowed: {', '.join(ZERO_SHOT)})")


def toy_rope(cfg: Config, scaling: str, length: int) -> tuple[np.ndarray, float, float]:
    """(θ_i, attention factor, scale s) the toy model uses for ``scaling`` at ``length`` tokens."""
    if scaling == "ultralong":
        kind, factor = "yarn", max(cfg.yarn_extend_scale, scale_at(cfg, length))
    elif scaling == "ultralong_control":
        kind, factor = "none", 1.0
    else:
        kind, factor = scaling, scale_at(cfg, length)
    theta, attention = rope.inv_freq(rope_parameters(cfg, kind, factor), cfg.head_dim, cfg.train_length, seq_len=length)
    if kind == "dynamic_ntk":
        factor = float(rope.default_frequencies(cfg.rope_theta, cfg.head_dim)[-1] / theta[-1])  # α: the last pair's θ/θ'
    elif kind == "none":
        factor = 1.0
    return theta, attention, factor


def training_rope(cfg: Config, scaling: str) -> tuple[np.ndarray, float]:
    """θ_i and attention factor during the continued training: YaRN at extend_scale (ultralong) or plain RoPE (control)."""
    kind, factor = ("yarn", cfg.yarn_extend_scale) if scaling == "ultralong" else ("none", 1.0)
    return rope.inv_freq(rope_parameters(cfg, kind, factor), cfg.head_dim, cfg.train_length, seq_len=cfg.pack_length)
