"""Training steps for the base model and the continued training: AdamW on answer loss + λ · next-token loss.

The learning rate follows a cosine from ``lr`` down to ``lr/10`` over the steps; gradients are clipped to norm 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from . import model as toy
from .task import Documents


def train(model, make_batch: Callable[[], Documents], steps: int, lr: float, lm_weight: float,
          device: torch.device) -> Iterator[tuple[int, float, float]]:
    """Yield (step, answer loss, next-token loss) after each of ``steps`` AdamW steps."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for step in range(1, steps + 1):
        for group in optimiser.param_groups:  # lr_t = lr · (0.1 + 0.9 · ½(1 + cos(π (t−1)/T)))
            group["lr"] = lr * (0.1 + 0.45 * (1 + math.cos(math.pi * (step - 1) / steps)))
        answer, lm = toy.losses(model, make_batch(), device)
        loss = answer + lm_weight * lm if lm_weight else answer
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        yield step, float(answer.detach()), float(lm.detach())
    model.eval()
