"""Long-context arithmetic for real models: parameters, KV cache, attention FLOPs, prefill memory, RoPE wavelengths.

From an HF-style ``config.json`` (or a preset written below from the models' published config.json files) a
:class:`ModelFacts`; from the facts, every figure is a closed form (B = bytes per element, L = tokens):

- parameters ``N = V·d + n_layers·(d·h·d_h + 2·d·k·d_h + h·d_h·d + 3·d·f + 2d) + d + [V·d unless tied]``
  (h query heads, k key/value heads of size d_h, MLP width f, vocabulary V);
- KV cache ``2 · n_layers · k · d_h · B · L`` (a K and a V vector per layer, KV head and token);
- attention FLOPs of the token at position L ``4 · n_layers · h · d_h · L`` (q·kᵀ and the weighted sum of v, two
  FLOPs per multiply-add, over L keys); dense FLOPs per token ``2 · (N − V·d [the embedding lookup])``;
- prefill memory ``N·B + KV(L) + L·B·max(2d + 2·h·d_h, 2d + 2f)``: the weights, the whole cache, and one layer's
  largest live activations (residual + normalised input, then q and the attention output, or the MLP's gate and up
  projections) when attention never forms the L×L scores (FlashAttention) and logits are taken for the last token
  only. A naive ("eager") attention would also hold one layer's ``h · L² · B`` scores: reported beside it.

The engine's reading of "which dims are interpolated": the fraction ``(1 − θ'/θ)/(1 − 1/s)`` per pair (0 = the
pair keeps its trained angles, extrapolated; 1 = interpolated by the full s), and ``L_orig/λ``, how many turns a
pair made inside the original window (YaRN's criterion: pairs with fewer than β_slow turns must be interpolated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.inputs import json_load

from . import rope
from .errors import LongContextError

DTYPE_BYTES = {"float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2, "float8": 1, "fp8": 1, "float8_e4m3fn": 1}
KV_LENGTHS = (131072, 262144, 524288, 1048576, 2097152, 4194304)  # 128K … 4M tokens


class ModelConfigError(LongContextError):
    """A config.json that cannot describe a model: not JSON, or a key missing or of the wrong kind (named)."""


@dataclass(frozen=True)
class ModelFacts:
    """What the arithmetic needs from a decoder's config.json; ``rope_parameters`` in transformers-5 shape."""

    name: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    rope_parameters: dict = field(default_factory=dict)
    tie_word_embeddings: bool = False
    dtype: str = "bfloat16"
    notes: tuple[str, ...] = ()

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def rope_type(self) -> str:
        return self.rope_parameters.get("rope_type", "default")

    @property
    def original_window(self) -> int:
        """L_orig: the window the RoPE was trained at (``original_max_position_embeddings``, else the model's window)."""
        return int(self.rope_parameters.get("original_max_position_embeddings", self.max_position_embeddings))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"dtype_bytes": self.dtype_bytes}


# Llama-3.1-8B: meta-llama/Llama-3.1-8B(-Instruct) config.json (transformers 4.43+): hidden 4096, 32 layers, 32 heads,
# 8 KV heads, MLP 14336, vocabulary 128256, rope_theta 500000, rope_scaling llama3 (factor 8, low_freq_factor 1,
# high_freq_factor 4, original_max_position_embeddings 8192), max_position_embeddings 131072, bfloat16, untied.
_LLAMA31 = dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                intermediate_size=14336, vocab_size=128256, tie_word_embeddings=False, dtype="bfloat16")


def _ultralong(window: int, factor: float) -> ModelFacts:
    # nvidia/Llama-3.1-8B-UltraLong-{1M,2M,4M}-Instruct: the Llama-3.1-8B architecture with YaRN measured from the
    # original 8K window, factor 128 / 256 / 512 and α = 1, β = 4 (transformers' beta_slow = 1, beta_fast = 4), as the
    # paper (arXiv:2504.06214, §3) and the model cards state; the released config.json was not reachable from here.
    return ModelFacts(name=f"UltraLong-8B-{window // 1048576}M", max_position_embeddings=window,
                      rope_parameters={"rope_type": "yarn", "rope_theta": 500000.0, "factor": factor,
                                       "original_max_position_embeddings": 8192, "beta_fast": 4.0, "beta_slow": 1.0},
                      **_LLAMA31)


PRESETS: dict[str, ModelFacts] = {
    "Llama-3.1-8B": ModelFacts(name="Llama-3.1-8B", max_position_embeddings=131072,
                               rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                               **_LLAMA31),
    "UltraLong-8B-1M": _ultralong(1048576, 128.0),
    "UltraLong-8B-2M": _ultralong(2097152, 256.0),
    "UltraLong-8B-4M": _ultralong(4194304, 512.0),
    # HuggingFaceTB/SmolLM2-135M config.json: hidden 576, 30 layers, 9 heads, 3 KV heads, MLP 1536, vocabulary 49152,
    # rope_theta 100000, no rope_scaling, max_position_embeddings 8192, tied embeddings, bfloat16.
    "SmolLM2-135M": ModelFacts(name="SmolLM2-135M", hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                               num_key_value_heads=3, head_dim=64, intermediate_size=1536, vocab_size=49152,
                               max_position_embeddings=8192, rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                               tie_word_embeddings=True, dtype="bfloat16"),
}


# ---- reading a config.json ---------------------------------------------------------------------------------------
def _positive_int(cfg: dict, key: str, where: str, default=None) -> int:
    if key not in cfg or cfg[key] is None:
        if default is not None:
            return default
        raise ModelConfigError(f"{where}: key {key!r} is missing (expected a positive integer)")
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ModelConfigError(f"{where}: key {key!r} = {value!r} is not a positive integer")
    return value


def _rope_parameters(cfg: dict, where: str, notes: list[str]) -> dict:
    """transformers' standardisation: ``rope_scaling`` (4.x) or ``rope_parameters`` (5.x); ``rope_theta`` inside or beside."""
    key = "rope_scaling" if cfg.get("rope_scaling") is not None else "rope_parameters"
    raw = cfg.get(key)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ModelConfigError(f"{where}: key {key!r} = {raw!r} is not an object (expected a dict of RoPE parameters or null)")
    params = dict(raw)
    if "type" in params and "rope_type" not in params:
        params["rope_type"] = params.pop("type")
    params.setdefault("rope_type", "default")
    theta_key = f"{key}.rope_theta"
    if "rope_theta" not in params:
        theta_key = "rope_theta"
        if "rope_theta" in cfg:
            params["rope_theta"] = cfg["rope_theta"]
        else:
            params["rope_theta"] = 10000.0
            notes.append("rope_theta not in the file: transformers' default 10000 assumed")
    kind = params["rope_type"]
    if kind not in ("default", "linear", "dynamic", "yarn", "llama3"):
        raise ModelConfigError(f"{where}: key '{key}.rope_type' = {kind!r} is not supported (allowed: default, linear, dynamic, "
                               "yarn, llama3)")
    required = {"linear": ("factor",), "dynamic": ("factor",), "yarn": ("factor",),
                "llama3": ("factor", "low_freq_factor", "high_freq_factor")}
    for name in ("rope_theta", *required.get(kind, ()), *(k for k in ("factor", "beta_fast", "beta_slow", "attention_factor",
                                                                     "partial_rotary_factor") if params.get(k) is not None)):
        value, shown = params.get(name), theta_key if name == "rope_theta" else f"{key}.{name}"
        if value is None:
            raise ModelConfigError(f"{where}: key '{shown}' is missing (rope_type {kind} needs it)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ModelConfigError(f"{where}: key '{shown}' = {value!r} is not a positive number")
        params[name] = float(value)
    if kind == "llama3" and params["high_freq_factor"] <= params["low_freq_factor"]:
        raise ModelConfigError(f"{where}: key '{key}.high_freq_factor' must exceed low_freq_factor")
    if "original_max_position_embeddings" in params:
        params["original_max_position_embeddings"] = _positive_int(params, "original_max_position_embeddings", f"{where} ({key})")
    return params


def facts_from_dict(cfg: dict, where: str = "config.json", name: str | None = None) -> ModelFacts:
    """ModelFacts from a parsed config.json (a ``text_config`` inside a multimodal config is used when present)."""
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"{where}: the top level is {type(cfg).__name__}, expected a JSON object")
    if isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg, **cfg["text_config"]}
    notes: list[str] = []
    hidden = _positive_int(cfg, "hidden_size", where)
    heads = _positive_int(cfg, "num_attention_heads", where)
    kv_heads = _positive_int(cfg, "num_key_value_heads", where, default=heads)
    if heads % kv_heads:
        raise ModelConfigError(f"{where}: key 'num_key_value_heads' = {kv_heads} does not divide num_attention_heads = {heads}")
    if cfg.get("head_dim") is None and hidden % heads:
        raise ModelConfigError(f"{where}: key 'head_dim' is missing and hidden_size {hidden} is not a multiple of "
                               f"num_attention_heads {heads}")
    head_dim = _positive_int(cfg, "head_dim", where, default=hidden // heads)
    dtype = cfg.get("torch_dtype", cfg.get("dtype")) or "bfloat16"
    if dtype not in DTYPE_BYTES:
        raise ModelConfigError(f"{where}: key 'torch_dtype' = {dtype!r} is not a known dtype (allowed: {', '.join(DTYPE_BYTES)})")
    tie = cfg.get("tie_word_embeddings", False)
    if not isinstance(tie, bool):
        raise ModelConfigError(f"{where}: key 'tie_word_embeddings' = {tie!r} is not true or false")
    facts = ModelFacts(
        name=name or str(cfg.get("_name_or_path") or Path(where).parent.name or "config.json"),
        hidden_size=hidden, num_hidden_layers=_positive_int(cfg, "num_hidden_layers", where), num_attention_heads=heads,
        num_key_value_heads=kv_heads, head_dim=head_dim, intermediate_size=_positive_int(cfg, "intermediate_size", where),
        vocab_size=_positive_int(cfg, "vocab_size", where), max_position_embeddings=_positive_int(cfg, "max_position_embeddings", where),
        rope_parameters=_rope_parameters(cfg, where, notes), tie_word_embeddings=tie, dtype=dtype, notes=tuple(notes),
    )
    if rope.rotary_dims(head_dim, facts.rope_parameters.get("partial_rotary_factor", 1.0)) < 4:
        raise ModelConfigError(f"{where}: key 'head_dim' = {head_dim} leaves fewer than 4 rotary dims")
    return facts


def read_model_config(path: str | Path) -> ModelFacts:
    """Read an HF ``config.json``; ModelConfigError names the file and the missing or bad key (or the JSON line)."""
    path = Path(path)
    cfg = json_load(path, ModelConfigError, max_bytes=16 * 2**20)  # regular files only; bounded nesting; no NaN literals
    return facts_from_dict(cfg, str(path))


# ---- the arithmetic ------------------------------------------------------------------------------------------------
def parameter_count(f: ModelFacts) -> int:
    """N = V·d + n_layers·(d·h·d_h + 2·d·k·d_h + h·d_h·d + 3·d·f + 2d) + d + [V·d unless tied]."""
    d, q, kv = f.hidden_size, f.num_attention_heads * f.head_dim, f.num_key_value_heads * f.head_dim
    layer = d * q + 2 * d * kv + q * d + 3 * d * f.intermediate_size + 2 * d
    embed = f.vocab_size * d
    return embed + f.num_hidden_layers * layer + d + (0 if f.tie_word_embeddings else embed)


def kv_bytes_per_token(f: ModelFacts, element_bytes: int | None = None) -> int:
    """2 · n_layers · k · d_h · B."""
    return 2 * f.num_hidden_layers * f.num_key_value_heads * f.head_dim * (element_bytes or f.dtype_bytes)


def kv_cache_bytes(f: ModelFacts, length: int, element_bytes: int | None = None) -> int:
    """2 · n_layers · k · d_h · B · L."""
    return kv_bytes_per_token(f, element_bytes) * int(length)


def attention_flops_per_token(f: ModelFacts, length: int) -> int:
    """4 · n_layers · h · d_h · L: the token at position L scores L keys (2·h·d_h·L) and sums L values (2·h·d_h·L)."""
    return 4 * f.num_hidden_layers * f.num_attention_heads * f.head_dim * int(length)


def dense_flops_per_token(f: ModelFacts) -> int:
    """2 · (N − V·d): every weight but the embedding table is one multiply-add per token (the LM head included)."""
    return 2 * (parameter_count(f) - f.vocab_size * f.hidden_size)


def prefill_flops(f: ModelFacts, length: int) -> int:
    """L · dense + 4·n_layers·h·d_h · L(L+1)/2 (causal: the i-th token attends to i keys)."""
    n = int(length)
    return n * dense_flops_per_token(f) + 4 * f.num_hidden_layers * f.num_attention_heads * f.head_dim * n * (n + 1) // 2


def activation_bytes(f: ModelFacts, length: int) -> int:
    """L · B · max(2d + 2·h·d_h, 2d + 2f): one layer's largest live set without an L×L score matrix."""
    d, q = f.hidden_size, f.num_attention_heads * f.head_dim
    return int(length) * f.dtype_bytes * max(2 * d + 2 * q, 2 * d + 2 * f.intermediate_size)


def eager_scores_bytes(f: ModelFacts, length: int) -> int:
    """h · L² · B: one layer's attention scores, what an implementation that materialises them holds at once."""
    return f.num_attention_heads * int(length) ** 2 * f.dtype_bytes


def prefill_memory_bytes(f: ModelFacts, length: int, element_bytes: int | None = None) -> int:
    """N·B + KV(L) + activations(L): a full-length prefill in one pass, memory-efficient attention, last-token logits."""
    return parameter_count(f) * f.dtype_bytes + kv_cache_bytes(f, length, element_bytes) + activation_bytes(f, length)


def scaled_rope(f: ModelFacts, scaling: str = "model", factor: float | None = None, length: int | None = None,
                yarn_beta_fast: float = 4.0, yarn_beta_slow: float = 1.0, yarn_truncate: bool = True,
                llama3_low_freq: float = 1.0, llama3_high_freq: float = 4.0) -> dict:
    """The rope_parameters a scaling gives this model: its own (``model``) or one of the engine's scalings at ``factor``.

    An override's factor defaults to L / L_orig (at least 1) and keeps the model's base and original window.
    """
    if scaling == "model":
        return dict(f.rope_parameters)
    base = {"rope_theta": f.rope_parameters["rope_theta"]}
    if "partial_rotary_factor" in f.rope_parameters:
        base["partial_rotary_factor"] = f.rope_parameters["partial_rotary_factor"]
    if scaling == "none":
        return {"rope_type": "default", **base}
    s = factor if factor is not None else max(1.0, (length or f.max_position_embeddings) / f.original_window)
    out = {"rope_type": rope.ROPE_TYPES[scaling], "factor": float(s), "original_max_position_embeddings": f.original_window, **base}
    if scaling == "yarn":
        out.update(beta_fast=yarn_beta_fast, beta_slow=yarn_beta_slow, truncate=yarn_truncate)
    elif scaling == "llama3":
        out.update(low_freq_factor=llama3_low_freq, high_freq_factor=llama3_high_freq)
    elif scaling == "dynamic_ntk":
        out["factor"] = 1.0  # α = L/L_orig from the length itself, as the engine's toy runs use it
    return out


@dataclass(repr=False)
class ModelReport:
    """Every calculator figure for one model: scalars at ``length``, series over ``kv_lengths``, RoPE per pair."""

    facts: ModelFacts
    length: int
    scaling: str
    rope_parameters: dict
    parameters: int
    kv_bytes_per_token: int
    kv_lengths: np.ndarray
    kv_cache_bytes: np.ndarray
    attention_flops_per_token: np.ndarray
    prefill_memory_bytes: np.ndarray
    dense_flops_per_token: int
    at_length: dict
    pair: np.ndarray  # (n,) rotary pair index i
    wavelength: np.ndarray  # (n,) λ_i of the unscaled RoPE, tokens
    scaled_wavelength: np.ndarray  # (n,) λ_i' under the chosen scaling
    interpolation: np.ndarray  # (n,) 0 = extrapolated … 1 = interpolated by the full factor
    trained_rotations: np.ndarray  # (n,) L_orig / λ_i
    attention_factor: float
    factor: float

    def __repr__(self) -> str:
        a = self.at_length
        return (f"ModelReport({self.facts.name} at {self.length} tokens: KV cache {a['kv_cache_bytes'] / 2**30:.3g} GiB, "
                f"prefill {a['prefill_memory_bytes'] / 2**30:.3g} GiB, {a['interpolated_pairs']} of {len(self.pair)} pairs interpolated)")

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "facts"}
        out["facts"] = self.facts.to_dict()
        return out

    def arrays(self, prefix: str = "calc_") -> dict[str, np.ndarray]:
        return {prefix + k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}


def model_report(f: ModelFacts, length: int = 131072, scaling: str = "model", factor: float | None = None,
                 kv_element_bytes: int | None = None, kv_lengths=KV_LENGTHS, **rope_options) -> ModelReport:
    """The calculator's whole answer for a model (see the module docstring for every formula)."""
    params = scaled_rope(f, scaling, factor, length, **rope_options)
    dim = rope.rotary_dims(f.head_dim, params.get("partial_rotary_factor", 1.0))
    theta = rope.default_frequencies(params["rope_theta"], dim)
    scaled, attention = rope.inv_freq(params, f.head_dim, f.max_position_embeddings, seq_len=length)
    if params["rope_type"] == "dynamic":
        s_eff = float(theta[-1] / scaled[-1])  # α: base' = base·α^(d/(d−2)) makes θ_i'/θ_i = α^(−2i/(d−2)), 1/α for the last pair
    else:
        s_eff = float(params.get("factor", 1.0))
    lengths = np.asarray(kv_lengths, dtype=np.int64)
    kv = np.array([kv_cache_bytes(f, n, kv_element_bytes) for n in lengths], dtype=np.float64)
    at = dict(
        kv_cache_bytes=kv_cache_bytes(f, length, kv_element_bytes),
        attention_flops_per_token=attention_flops_per_token(f, length),
        dense_flops_per_token=dense_flops_per_token(f),
        attention_share=attention_flops_per_token(f, length) / (attention_flops_per_token(f, length) + dense_flops_per_token(f)),
        prefill_flops=prefill_flops(f, length),
        weights_bytes=parameter_count(f) * f.dtype_bytes,
        activation_bytes=activation_bytes(f, length),
        prefill_memory_bytes=prefill_memory_bytes(f, length, kv_element_bytes),
        eager_scores_bytes=eager_scores_bytes(f, length),
        interpolated_pairs=int(np.sum(rope.interpolation_fraction(theta, scaled, s_eff) > 0.999)),
        extrapolated_pairs=int(np.sum(rope.interpolation_fraction(theta, scaled, s_eff) < 0.001)),
        within_window=bool(length <= f.max_position_embeddings),
    )
    at["blended_pairs"] = dim // 2 - at["interpolated_pairs"] - at["extrapolated_pairs"]
    return ModelReport(
        facts=f, length=int(length), scaling=scaling, rope_parameters=params, parameters=parameter_count(f),
        kv_bytes_per_token=kv_bytes_per_token(f, kv_element_bytes), kv_lengths=lengths, kv_cache_bytes=kv,
        attention_flops_per_token=np.array([attention_flops_per_token(f, n) for n in lengths], dtype=np.float64),
        prefill_memory_bytes=np.array([prefill_memory_bytes(f, n, kv_element_bytes) for n in lengths], dtype=np.float64),
        dense_flops_per_token=dense_flops_per_token(f), at_length=at, pair=np.arange(dim // 2),
        wavelength=rope.wavelengths(theta), scaled_wavelength=rope.wavelengths(scaled),
        interpolation=rope.interpolation_fraction(theta, scaled, s_eff), trained_rotations=f.original_window / rope.wavelengths(theta),
        attention_factor=float(attention), factor=s_eff,
    )
