"""The toy model: a tiny ``transformers.LlamaForCausalLM`` whose RoPE frequencies the engine sets from :mod:`rope`.

The model is built with plain RoPE (``rope_type: default``); every scaling is applied by writing θ_i and the
attention factor into its rotary module (``model.model.rotary_emb.inv_freq`` / ``.attention_scaling``), the two
numbers transformers' own scalings produce, so the forward pass is transformers' and the scaling is ours.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

from .task import Documents

hf_logging.set_verbosity_error()


def build(vocab_size: int, d_model: int, n_layers: int, n_heads: int, ffn: int, rope_theta: float, seed: int,
          device: torch.device) -> LlamaForCausalLM:
    """A LlamaForCausalLM (RMSNorm, SwiGLU, RoPE, SDPA attention, untied embeddings) initialised from ``seed``."""
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=d_model, intermediate_size=ffn, num_hidden_layers=n_layers,
        num_attention_heads=n_heads, num_key_value_heads=n_heads, max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": float(rope_theta)}, tie_word_embeddings=False,
        attn_implementation="sdpa", use_cache=False, bos_token_id=0, eos_token_id=None, pad_token_id=None,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).to(device)


def set_rope(model: LlamaForCausalLM, theta: np.ndarray, attention_factor: float) -> None:
    """Use θ_i (one per rotary pair) and the attention factor in every layer's rotation from now on."""
    rotary = model.model.rotary_emb
    if rotary.inv_freq.shape != theta.shape:
        raise ValueError(f"theta: {theta.shape[0]} pairs given, the model rotates {rotary.inv_freq.shape[0]}")
    with torch.no_grad():
        rotary.inv_freq.copy_(torch.as_tensor(theta, dtype=torch.float32))
    rotary.attention_scaling = float(attention_factor)


def parameter_count(model: LlamaForCausalLM) -> int:
    return sum(p.numel() for p in model.parameters())


def logits(model: LlamaForCausalLM, tokens: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, L, V) next-token logits for a batch of token rows."""
    return model(input_ids=torch.as_tensor(tokens, device=device)).logits


def losses(model: LlamaForCausalLM, docs: Documents, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(answer loss, next-token loss on the haystack): cross-entropies at the last position and at every chained one."""
    out = logits(model, docs.tokens, device)
    answer = torch.nn.functional.cross_entropy(out[:, -1], torch.as_tensor(docs.answer, device=device))
    target = torch.as_tensor(docs.lm_target, device=device)
    if bool((target >= 0).any()):
        lm = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1), ignore_index=-100)
    else:
        lm = out.sum() * 0.0
    return answer, lm


def state_dict_numpy(model: LlamaForCausalLM) -> dict[str, np.ndarray]:
    """The weights as float32 numpy arrays (what a checkpoint stores)."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items() if "rotary_emb" not in k}


def load_state(model: LlamaForCausalLM, weights: dict[str, np.ndarray]) -> None:
    missing = set(state_dict_numpy(model)) - set(weights)
    if missing:
        raise ValueError(f"weights: {len(missing)} tensors missing (e.g. {sorted(missing)[0]})")
    model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()}, strict=False)
