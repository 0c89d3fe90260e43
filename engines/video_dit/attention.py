"""Query-sparse attention with the log-sum-exp, the kernel under ASTRAEA's token selection.

``attention(q, k, v)`` takes queries of only the selected tokens (q [B, H, n_q, d]) and keys/values of all tokens
(k, v [B, H, N, d]) and returns (out [B, H, n_q, d], lse [B, H, n_q]) with lse_i = log Σ_j exp(q_i·k_j / √d). On the
CPU one fused kernel gives both (``aten._scaled_dot_product_flash_attention_for_cpu``, no extra cost); on CUDA
``F.scaled_dot_product_attention`` gives the output and the LSE is computed beside it only when asked for.
``reference_attention`` is the slow, obvious softmax the tests hold it to.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, need_lse: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(softmax(q kᵀ/√d) v, logsumexp(q kᵀ/√d)) for queries q of a subset of tokens and k, v of all of them."""
    if q.device.type == "cpu" and q.dtype in (torch.float32, torch.float64, torch.bfloat16) and not torch.is_grad_enabled():
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)
        return out, lse
    out = F.scaled_dot_product_attention(q, k, v)
    lse = None
    if need_lse:
        with torch.no_grad():
            lse = torch.logsumexp((q @ k.transpose(-1, -2)).float() / math.sqrt(q.shape[-1]), dim=-1)
    return out, lse


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense softmax in float64: (out, lse) for every query row."""
    s = (q.double() @ k.double().transpose(-1, -2)) / math.sqrt(q.shape[-1])
    lse = torch.logsumexp(s, dim=-1)
    return torch.exp(s - lse[..., None]) @ v.double(), lse
