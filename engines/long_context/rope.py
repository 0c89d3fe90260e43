"""RoPE and its context-extension scalings: the inverse frequencies θ_i and the attention factor.

RoPE rotates the query/key pair (2i, 2i+1) by the angle ``m·θ_i`` at position m, with
``θ_i = base^(−2i/d)`` for ``i = 0 … d/2 − 1`` (d = rotary dims of a head) and wavelength ``λ_i = 2π/θ_i``.
A scaling changes the θ_i so that positions beyond the trained window ``L_orig`` land on angles the model
has seen; it may also return an attention factor ``a`` that multiplies cos and sin (so q·k by ``a²``):

- ``default``  (``none``): ``θ_i`` unchanged, ``a = 1``.
- ``linear``   (position interpolation): ``θ_i / s``.
- ``dynamic``  (dynamic NTK): a new base ``b' = b·(s·L/L_orig − (s − 1))^(d/(d−2))`` for the current length
  ``L`` (clamped to ``L ≥ L_orig``), ``θ_i = b'^(−2i/d)``.
- ``yarn``     (NTK-by-parts + temperature): per pair a ramp ``γ_i`` between the dims
  ``d(r) = d·ln(L_orig/(2π r)) / (2 ln b)`` at ``r = β_fast`` and ``r = β_slow`` rotations (floored/ceiled when
  ``truncate``), ``θ_i' = (1 − γ_i)·θ_i + γ_i·θ_i/s`` (γ = 0 extrapolates, γ = 1 interpolates);
  ``a = 0.1·ln s + 1`` (or ``mscale``/``mscale_all_dim`` as DeepSeek writes it).
- ``llama3``: wavelengths below ``L_orig/high_freq_factor`` kept, above ``L_orig/low_freq_factor`` divided by s,
  in between ``(1 − σ)·θ/s + σ·θ`` with ``σ = (L_orig/λ − low)/(high − low)``.

Written from those formulas in float64 and checked against transformers 5.24's
``modeling_rope_utils.ROPE_INIT_FUNCTIONS`` (float32) to 1e-6 in the tests; :func:`inv_freq` reads the same
``rope_parameters`` dict (``rope_theta`` inside it) and applies transformers' defaults: YaRN ``beta_fast`` 32,
``beta_slow`` 1, ``truncate`` true (UltraLong used β_fast = 4, β_slow = 1: the engine's Config default).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import LongContextError

# the engine's names for the scalings -> transformers' rope_type
ROPE_TYPES = {"none": "default", "linear": "linear", "dynamic_ntk": "dynamic", "yarn": "yarn", "llama3": "llama3"}
HF_YARN_BETA_FAST, HF_YARN_BETA_SLOW = 32.0, 1.0


class RopeError(LongContextError):
    """Bad RoPE parameters (a missing factor, an unknown rope_type, a non-positive base)."""


def rotary_dims(head_dim: int, partial_rotary_factor: float = 1.0) -> int:
    """d: the head dims RoPE rotates (``int(head_dim · partial_rotary_factor)``)."""
    return int(head_dim * partial_rotary_factor)


def default_frequencies(base: float, dim: int) -> np.ndarray:
    """θ_i = base^(−2i/d), i = 0 … d/2 − 1."""
    return 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)


def linear_scaling(base: float, dim: int, factor: float) -> tuple[np.ndarray, float]:
    """Position interpolation: θ_i / s (every wavelength stretched by s); attention factor 1."""
    return default_frequencies(base, dim) / factor, 1.0


def dynamic_ntk_scaling(base: float, dim: int, factor: float, seq_len: int, original_length: int) -> tuple[np.ndarray, float]:
    """Dynamic NTK: base' = base·(s·L/L_orig − (s − 1))^(d/(d−2)) with L = max(seq_len, L_orig); attention factor 1."""
    length = max(seq_len, original_length)
    new_base = base * ((factor * length / original_length) - (factor - 1)) ** (dim / (dim - 2))
    return default_frequencies(new_base, dim), 1.0


def yarn_correction_dim(rotations: float, dim: int, base: float, original_length: int) -> float:
    """The (fractional) pair index whose wavelength fits ``rotations`` times in L_orig: d·ln(L_orig/(2π r)) / (2 ln b)."""
    return (dim * math.log(original_length / (rotations * 2 * math.pi))) / (2 * math.log(base))


def yarn_ramp(base: float, dim: int, original_length: int, beta_fast: float, beta_slow: float, truncate: bool) -> np.ndarray:
    """γ_i ∈ [0, 1] per pair: 0 below the β_fast dim (extrapolated), 1 above the β_slow dim (interpolated), linear between."""
    low = yarn_correction_dim(beta_fast, dim, base, original_length)
    high = yarn_correction_dim(beta_slow, dim, base, original_length)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # transformers' guard against a zero-width ramp
    return np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def yarn_attention_factor(factor: float, mscale: float | None = None, mscale_all_dim: float | None = None) -> float:
    """YaRN's temperature: a = 0.1·ln s + 1 (1 for s ≤ 1); with DeepSeek's mscale pair, m(s, mscale)/m(s, mscale_all_dim)."""

    def m(scale: float, ms: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * ms * math.log(scale) + 1.0

    if mscale and mscale_all_dim:
        return float(m(factor, mscale) / m(factor, mscale_all_dim))
    return m(factor)


def yarn_scaling(base: float, dim: int, factor: float, original_length: int, beta_fast: float = HF_YARN_BETA_FAST,
                 beta_slow: float = HF_YARN_BETA_SLOW, truncate: bool = True, attention_factor: float | None = None,
                 mscale: float | None = None, mscale_all_dim: float | None = None) -> tuple[np.ndarray, float]:
    """YaRN: θ_i' = (1 − γ_i)·θ_i + γ_i·θ_i/s with the ramp γ of :func:`yarn_ramp`; a = 0.1·ln s + 1 unless given."""
    theta = default_frequencies(base, dim)
    gamma = yarn_ramp(base, dim, original_length, beta_fast, beta_slow, truncate)
    if attention_factor is None:
        attention_factor = yarn_attention_factor(factor, mscale, mscale_all_dim)
    return (1.0 - gamma) * theta + gamma * theta / factor, float(attention_factor)


def llama3_scaling(base: float, dim: int, factor: float, original_length: int, low_freq_factor: float = 1.0,
                   high_freq_factor: float = 4.0) -> tuple[np.ndarray, float]:
    """Llama 3.1: λ < L_orig/high kept, λ > L_orig/low divided by s, between (1 − σ)·θ/s + σ·θ, σ = (L_orig/λ − low)/(high − low)."""
    theta = default_frequencies(base, dim)
    wavelength = 2 * math.pi / theta
    sigma = (original_length / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)
    out = np.where(wavelength > original_length / low_freq_factor, theta / factor, theta)
    medium = (wavelength >= original_length / high_freq_factor) & (wavelength <= original_length / low_freq_factor)
    return np.where(medium, (1 - sigma) * theta / factor + sigma * theta, out), 1.0


def _number(params: dict, key: str, *, required: bool = True, default=None, positive: bool = True):
    value = params.get(key, default)
    if value is None:
        if required:
            raise RopeError(f"rope_parameters.{key}: missing (expected a number)")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (positive and value <= 0):
        raise RopeError(f"rope_parameters.{key}: {value!r} is not a {'positive ' if positive else ''}finite number")
    return float(value)


def inv_freq(rope_parameters: dict, head_dim: int, max_position_embeddings: int, seq_len: int | None = None) -> tuple[np.ndarray, float]:
    """(θ_i, attention factor) for a transformers-5 ``rope_parameters`` dict, as ``ROPE_INIT_FUNCTIONS[rope_type]`` gives them.

    ``rope_parameters`` holds ``rope_type`` (``default``, ``linear``, ``dynamic``, ``yarn``, ``llama3``), ``rope_theta``,
    ``factor`` and the type's own keys; ``original_max_position_embeddings`` defaults to ``max_position_embeddings``
    (transformers' standardisation). Dynamic NTK scales from ``max_position_embeddings`` at ``seq_len`` (None = that
    length), as transformers does.
    """
    kind = rope_parameters.get("rope_type", rope_parameters.get("type", "default"))
    base = _number(rope_parameters, "rope_theta")
    dim = rotary_dims(head_dim, _number(rope_parameters, "partial_rotary_factor", default=1.0))
    if dim < 2:
        raise RopeError(f"head_dim: {head_dim} leaves fewer than 2 rotary dims")
    if kind == "default":
        return default_frequencies(base, dim), 1.0
    original = int(_number(rope_parameters, "original_max_position_embeddings", default=max_position_embeddings))
    if kind == "linear":
        return linear_scaling(base, dim, _number(rope_parameters, "factor"))
    if kind == "dynamic":
        if dim <= 2:
            raise RopeError(f"head_dim: dynamic NTK needs more than 2 rotary dims, got {dim}")
        length = max_position_embeddings if seq_len is None else seq_len
        return dynamic_ntk_scaling(base, dim, _number(rope_parameters, "factor"), length, max_position_embeddings)
    if kind == "yarn":
        return yarn_scaling(
            base, dim, _number(rope_parameters, "factor"), original,
            beta_fast=rope_parameters.get("beta_fast") or HF_YARN_BETA_FAST,
            beta_slow=rope_parameters.get("beta_slow") or HF_YARN_BETA_SLOW,
            truncate=bool(rope_parameters.get("truncate", True)),
            attention_factor=_number(rope_parameters, "attention_factor", required=False),
            mscale=rope_parameters.get("mscale"), mscale_all_dim=rope_parameters.get("mscale_all_dim"),
        )
    if kind == "llama3":
        return llama3_scaling(base, dim, _number(rope_parameters, "factor"), original,
                              _number(rope_parameters, "low_freq_factor"), _number(rope_parameters, "high_freq_factor"))
    raise RopeError(f"rope_parameters.rope_type: {kind!r} is not supported (allowed: default, linear, dynamic, yarn, llama3)")


def wavelengths(theta: np.ndarray) -> np.ndarray:
    """λ_i = 2π/θ_i, in tokens."""
    return 2 * math.pi / np.asarray(theta, dtype=np.float64)


def interpolation_fraction(theta: np.ndarray, scaled: np.ndarray, factor: float) -> np.ndarray:
    """How far each pair moved towards full interpolation: (1 − θ'/θ)/(1 − 1/s) — 0 extrapolated, 1 interpolated by s."""
    if factor <= 1:
        return np.zeros_like(np.asarray(theta, dtype=np.float64))
    return np.clip((1.0 - np.asarray(scaled) / np.asarray(theta)) / (1.0 - 1.0 / factor), 0.0, 1.0)
