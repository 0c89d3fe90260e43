"""Model and GPU memory arithmetic, and the roofline step-time model.

Model memory (per GPU, tensor parallel degree ``tp`` splits heads, KV heads and the MLP width):

- weight bytes      ``W = b · [V·h·(2 − tied) + L·(h·(n_h·d) + 2·h·(n_kv·d) + (n_h·d)·h + 3·h·I + 2·h) + h + bias]`` / tp
- KV bytes / token  ``2 · L · (n_kv/tp) · d · b``                (K and V, every layer)
- activation bytes of a forward over N tokens and S sampled sequences
  ``A(N, S) = N · b · (h + 3·I/tp)  +  S · V · 4 · 2  +  workspace``
  The per-layer working set is dominated by the MLP: the residual stream (h) plus gate, up and
  act(gate)·up (3·I) live at once; layers run one after another so one layer's set is the peak.
  The sampler holds fp32 logits and probabilities for the S sampled positions only (vLLM computes
  logits for the last position of each sequence, never for all N positions), and FlashAttention-style
  kernels keep no N² score matrix. ``workspace`` covers cuBLAS/attention workspaces (a constant).

The roofline (per GPU, one iteration of a fused prefill+decode batch):

- FLOPs  ``F = 2·P_lin·T + 2·h·(V/tp)·S + 4·L·(n_h/tp)·d·Apairs``  with T tokens in the step and
  Apairs the attention (query, key) pairs: ``ctx+1`` per decoding sequence, ``c·p + c·(c+1)/2``
  for a prefill chunk of c tokens after p already-computed tokens.
- bytes  ``B = W + kvb·(Σ ctx_decode + Σ p_prefill) + kvb·T``  (weights once, every resident
  decoding request's KV read, previous chunks' KV read by a chunk, new KV written).
- time   ``t = max(F / (peak·mfu), B / (bw·mbu)) + step_overhead``.

Tensor-parallel all-reduce time is not modelled (it is the same for every policy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer in Hugging Face ``config.json`` terms."""

    name: str
    num_hidden_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    dtype_bytes: int = 2
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    tp: int = 1

    @classmethod
    def from_hf(cls, name: str, cfg: dict, tp: int = 1) -> ModelSpec:
        """From a Hugging Face ``config.json`` dict (``head_dim`` defaults to hidden / heads)."""
        dtype = {"bfloat16": 2, "float16": 2, "float32": 4}.get(str(cfg.get("torch_dtype", "bfloat16")), 2)
        return cls(
            name=name,
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            hidden_size=int(cfg["hidden_size"]),
            intermediate_size=int(cfg["intermediate_size"]),
            num_attention_heads=int(cfg["num_attention_heads"]),
            num_key_value_heads=int(cfg.get("num_key_value_heads", cfg["num_attention_heads"])),
            head_dim=int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]),
            vocab_size=int(cfg["vocab_size"]),
            dtype_bytes=dtype,
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            attention_bias=bool(cfg.get("attention_bias", False)) or "qwen2" in str(cfg.get("model_type", "")),
            tp=tp,
        )

    # ---- parameter counts (whole model) ---------------------------------------------------------
    @property
    def layer_params(self) -> int:
        h, d = self.hidden_size, self.head_dim
        q, kv = self.num_attention_heads * d, self.num_key_value_heads * d
        attn = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.attention_bias else 0)
        mlp = 3 * h * self.intermediate_size
        return attn + mlp + 2 * h  # two RMSNorm weights

    @property
    def params(self) -> int:
        emb = self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)
        return emb + self.num_hidden_layers * self.layer_params + self.hidden_size

    # ---- per-GPU memory ------------------------------------------------------------------------
    @property
    def weight_bytes(self) -> int:
        """Bytes of weights on one GPU: every parameter once, split over ``tp``."""
        return int(math.ceil(self.params * self.dtype_bytes / self.tp))

    @property
    def kv_bytes_per_token(self) -> int:
        """``2 · L · (n_kv/tp) · d · b``: K and V of one token over every layer, on one GPU."""
        n_kv = max(1, self.num_key_value_heads // self.tp)
        return 2 * self.num_hidden_layers * n_kv * self.head_dim * self.dtype_bytes

    @property
    def activation_bytes_per_token(self) -> int:
        """``b·(h + 3·I/tp)``: the per-token term of ``A(N, S)``."""
        return self.dtype_bytes * (self.hidden_size + 3 * self.intermediate_size // self.tp)

    def activation_bytes(self, n_tokens, n_seqs, workspace_bytes: int = 0):
        """``A(N, S) = N·b·(h + 3·I/tp) + S·V·4·2 + workspace`` (see module docstring)."""
        return np.asarray(n_tokens) * self.activation_bytes_per_token + np.asarray(n_seqs) * self.vocab_size * 8 + workspace_bytes

    @property
    def activation_to_kv(self) -> float:
        """Activation bytes per prefill token over KV bytes per token: how much a static reserve costs."""
        return self.activation_bytes_per_token / self.kv_bytes_per_token

    # ---- FLOPs ---------------------------------------------------------------------------------
    @property
    def linear_params_per_gpu(self) -> float:
        return self.num_hidden_layers * self.layer_params / self.tp

    @property
    def attn_flops_per_pair(self) -> float:
        """QKᵀ and PV: 2 multiply-adds per (query, key) pair per head dim, per layer, on one GPU."""
        return 4.0 * self.num_hidden_layers * (self.num_attention_heads / self.tp) * self.head_dim


# Hugging Face configs of the presets (values from the models' config.json files).
MODELS: dict[str, ModelSpec] = {
    "Llama-3.1-8B": ModelSpec("Llama-3.1-8B", 32, 4096, 14336, 32, 8, 128, 128256),
    "Qwen2.5-7B": ModelSpec("Qwen2.5-7B", 28, 3584, 18944, 28, 4, 128, 152064, attention_bias=True),
    "Llama-3.1-70B-TP4": ModelSpec("Llama-3.1-70B-TP4", 80, 8192, 28672, 64, 8, 128, 128256, tp=4),
}


@dataclass(frozen=True)
class GpuSpec:
    """One accelerator: memory as nvidia-smi reports it, dense bf16 peak, HBM and PCIe bandwidth.

    ``map_us``/``unmap_us``: CUDA virtual-memory ``cuMemMap``+``cuMemSetAccess`` / ``cuMemUnmap`` per
    2 MiB chunk, a few microseconds each (vAttention, Prabhu et al. 2024, measures µs-scale map
    calls; physical handles are created once up front, so ``cuMemCreate`` is not on the path).
    PCIe figures are effective host↔device copy rates, below the link's nominal rate.
    """

    name: str
    memory_bytes: int
    peak_flops: float
    hbm_bytes_per_s: float
    pcie_bytes_per_s: float
    map_us: float = 5.0
    unmap_us: float = 4.0


GPUS: dict[str, GpuSpec] = {
    "A100-40G": GpuSpec("A100-40G", 40960 * MIB, 312e12, 1.555e12, 25e9),
    "A100-80G": GpuSpec("A100-80G", 81920 * MIB, 312e12, 2.039e12, 25e9),
    "H100-80G": GpuSpec("H100-80G", 81559 * MIB, 989e12, 3.35e12, 50e9),
    "H200": GpuSpec("H200", 143771 * MIB, 989e12, 4.8e12, 50e9),
}


@dataclass(frozen=True)
class Roofline:
    """Step time of one iteration on one GPU (module docstring, "The roofline")."""

    model: ModelSpec
    gpu: GpuSpec
    mfu: float = 0.6
    mbu: float = 0.8
    step_overhead_s: float = 3e-4

    def __post_init__(self):
        # step_time's constants, computed once by the same expressions (so to the same floats); the simulator asks
        # for thousands of step times per second and the model's properties recount its parameters on each access
        m, g = self.model, self.gpu
        constants = dict(
            _flops_per_token=2.0 * m.linear_params_per_gpu,
            _flops_per_sample=2.0 * m.hidden_size * (m.vocab_size / m.tp),
            _flops_per_pair=m.attn_flops_per_pair,
            _weight_bytes=m.weight_bytes,
            _kv_bytes_per_token=m.kv_bytes_per_token,
            _flop_rate=g.peak_flops * self.mfu,
            _byte_rate=g.hbm_bytes_per_s * self.mbu,
        )
        for k, v in constants.items():
            object.__setattr__(self, k, v)

    def step_time(self, n_tokens, n_sampled, attn_pairs, kv_read_tokens):
        """Vectorised: every argument may be an array of steps."""
        flops = self._flops_per_token * n_tokens + self._flops_per_sample * n_sampled
        flops = flops + self._flops_per_pair * attn_pairs
        moved = self._weight_bytes + self._kv_bytes_per_token * (np.asarray(kv_read_tokens, dtype=float) + n_tokens)
        return np.maximum(flops / self._flop_rate, moved / self._byte_rate) + self.step_overhead_s

    def decode_time(self, n_decode, ctx_sum):
        """A decode-only step: B sequences holding Σctx tokens of KV (attention over ctx+1 keys each)."""
        return self.step_time(n_decode, n_decode, np.asarray(ctx_sum, dtype=float) + n_decode, ctx_sum)

    def prefill_time(self, n_tokens: int, chunk: int) -> float:
        """A prefill of ``n_tokens`` alone, in chunks of ``chunk`` tokens (sum of its steps)."""
        if 0 < n_tokens <= chunk:  # one step: the arithmetic below on scalars (the same floats, a fifth of the time)
            c = float(n_tokens)
            return float(self.step_time(c, 1.0, c * 0.0 + c * (c + 1) / 2, 0.0))
        starts = np.arange(0, n_tokens, max(1, chunk), dtype=float)
        c = np.minimum(chunk, n_tokens - starts)
        pairs = c * starts + c * (c + 1) / 2
        sampled = (starts + c >= n_tokens).astype(float)
        return float(self.step_time(c, sampled, pairs, starts).sum())
