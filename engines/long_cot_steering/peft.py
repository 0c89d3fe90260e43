"""The paper's parameter-efficient fine-tune: a last-layer activation amplification module plus a few LoRA layers,
against full LoRA (every projection of every layer), on the task-world model.

*Amplification module*: a learned gain per unit of the last layer's ``act_fn`` output, ``a ↦ a·(1 + g)`` with
``g`` starting at 0 (``intermediate_size`` parameters). *LoRA*: ``W x + (α/r)·B A x`` on a frozen ``nn.Linear``, A
drawn N(0, 1/in), B = 0 (so training starts at the base model). Both arms start from the same checkpoint (the
reasoning world's SFT model, 5 % self-checked traces), train on the same batches (the self-check trace mix of
``record.MIX``) with the same optimiser, and are evaluated on the same held-out prompts and random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float, generator: torch.Generator):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(rank, base.in_features, generator=generator) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T


class Amplifier(nn.Module):
    """``act_fn`` followed by a learned per-unit gain (1 + g)."""

    def __init__(self, act: nn.Module, units: int):
        super().__init__()
        self.act = act
        self.g = nn.Parameter(torch.zeros(units))

    def forward(self, x):
        return self.act(x) * (1 + self.g)


def add_lora(model, layers: list[int], projections=PROJECTIONS, rank: int = 8, alpha: float = 16.0, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    for i in layers:
        layer = model.model.layers[i]
        for name in projections:
            parent = layer.self_attn if name in ("q_proj", "k_proj", "v_proj", "o_proj") else layer.mlp
            setattr(parent, name, LoRALinear(getattr(parent, name), rank, alpha, gen))


def add_amplifier(model) -> None:
    mlp = model.model.layers[-1].mlp
    mlp.act_fn = Amplifier(mlp.act_fn, model.config.intermediate_size)


def freeze_all_but_adapters(model) -> int:
    """Freeze the base weights; return the trainable parameter count (the adapters)."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.endswith((".A", ".B", ".g")))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class Arm:
    name: str
    amplifier: bool
    lora_layers: str  # "all" or "last:N"
    projections: tuple[str, ...] = PROJECTIONS


ARMS = (Arm("full_lora", False, "all"), Arm("amp_lora", True, "last:1", ("q_proj", "v_proj")))


def build(model, arm: Arm, rank: int, seed: int) -> int:
    n = model.config.num_hidden_layers
    layers = list(range(n)) if arm.lora_layers == "all" else list(range(n - int(arm.lora_layers.split(":")[1]), n))
    add_lora(model, layers, arm.projections, rank, 2.0 * rank, seed)
    if arm.amplifier:
        add_amplifier(model)
    return freeze_all_but_adapters(model)


def train(model, tokenizer, mix, steps: int, batch: int, lr: float, seed: int, progress=None) -> list[float]:
    """AdamW on the trainable parameters, linear warm-up then cosine; the same batches for every arm (``seed``)."""
    from engines.reasoning.sft import draw_example, encode_pairs, lr_factor

    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, max(steps // 10, 1), steps, 0.1))
    losses = []
    model.train()
    for step in range(steps):
        pairs = [draw_example(rng, mix) for _ in range(batch)]
        ids, mask, labels = encode_pairs(tokenizer, [t.prompt for t, _ in pairs], [r for _, r in pairs], device)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, losses[-1])
    model.eval()
    return losses
