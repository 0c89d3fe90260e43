"""Recording and controlling MLP activations through forward hooks on any Hugging Face Llama-style model.

The activations are the outputs of ``model.model.layers[i].mlp.act_fn`` — in a SwiGLU MLP,
``down(act(gate(x)) * up(x))``, that is ``act(gate(x))``, shape (batch, tokens, intermediate) — the paper's
"activations" (EELo-CoT hooks the same module). :class:`Recorder` keeps them for chosen layers;
:class:`Controller` multiplies chosen units by a per-row factor ``scale`` (the generation loop sets it before
every forward pass: ``1 + α·f(t)`` after a trigger, a constant, or 1) and leaves every other unit as it was.

Contrastive selection (:func:`select_units`): with ``P`` the mean activation of each unit over the response
tokens of the positive examples (long, reflective, right) and ``N`` over the negative ones (short, unreflective,
wrong), the selected units are the ``top_n`` largest ``P − N`` over the searched layers (the paper's mean
activation difference, top N).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch


def act_modules(model) -> list:
    """``model.model.layers[i].mlp.act_fn`` for every decoder layer (ValueError if the model is not Llama-shaped)."""
    try:
        layers = model.model.layers
        return [layer.mlp.act_fn for layer in layers]
    except AttributeError:
        raise ValueError(f"model {type(model).__name__}: no model.model.layers[i].mlp.act_fn (allowed: a Llama-style causal LM)") from None


def last_layers(model, n: int) -> list[int]:
    """The indices of the last ``n`` decoder layers."""
    total = len(act_modules(model))
    return list(range(max(total - n, 0), total))


class Recorder:
    """Keeps ``act_fn`` outputs of ``layers`` (a context manager): ``calls[layer]`` is a list of (B, T, I) tensors."""

    def __init__(self, model, layers: list[int], units: dict[int, torch.Tensor] | None = None):
        self.model, self.layers, self.units = model, list(layers), units
        self.calls: dict[int, list[torch.Tensor]] = {i: [] for i in self.layers}
        self._handles: list = []

    def __enter__(self):
        mods = act_modules(self.model)
        for i in self.layers:
            self._handles.append(mods[i].register_forward_hook(self._hook(i)))
        return self

    def _hook(self, i: int):
        def hook(_module, _inp, out):
            x = out.detach()
            if self.units is not None:
                x = x[..., self.units[i]]
            self.calls[i].append(x.float().cpu())

        return hook

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def clear(self) -> None:
        for v in self.calls.values():
            v.clear()


class Controller:
    """Scales ``units[layer]`` of ``act_fn``'s output by ``scale`` (a number or a (B,) tensor); other units untouched."""

    def __init__(self, model, units: dict[int, torch.Tensor]):
        self.model = model
        self.units = {int(k): torch.as_tensor(v, dtype=torch.long) for k, v in units.items()}
        self.scale: torch.Tensor | float = 1.0
        self._handles: list = []

    def __enter__(self):
        mods = act_modules(self.model)
        for i, idx in self.units.items():
            self._handles.append(mods[i].register_forward_hook(self._hook(idx)))
        return self

    def _hook(self, idx: torch.Tensor):
        def hook(_module, _inp, out):
            s = self.scale
            if isinstance(s, float) and s == 1.0:
                return None
            s = torch.as_tensor(s, dtype=out.dtype, device=out.device)
            if s.ndim == 1:  # one factor per batch row
                s = s.view(-1, *([1] * (out.ndim - 1)))
            cols = idx.to(out.device)
            out = out.clone()
            out[..., cols] = out[..., cols] * s
            return out

        return hook

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles.clear()


@contextlib.contextmanager
def controlled(model, units: dict[int, torch.Tensor] | None):
    """A :class:`Controller` on ``units`` (or a do-nothing stand-in when ``units`` is None)."""
    if not units:
        yield Controller(model, {})
        return
    with Controller(model, units) as ctl:
        yield ctl


@torch.no_grad()
def mean_response_activation(model, tokenizer_pairs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], layers: list[int]) -> np.ndarray:
    """Mean ``act_fn`` output per (layer, unit) over the response tokens of a teacher-forced batch.

    ``tokenizer_pairs`` is ``(input_ids, attention_mask, response_mask)``; returns (len(layers), I).
    """
    ids, mask, resp = tokenizer_pairs
    with Recorder(model, layers) as rec:
        model(input_ids=ids, attention_mask=mask)
    w = resp.float()[..., None]
    return np.stack([((rec.calls[i][0] * w).sum((0, 1)) / w.sum().clamp(min=1)).numpy() for i in layers])


@dataclass(frozen=True)
class Selection:
    """The selected units: their layer and index, the difference score P − N, and the per-layer scores searched."""

    layers: tuple[int, ...]
    unit_layer: np.ndarray
    unit_index: np.ndarray
    score: np.ndarray
    diff: np.ndarray  # (len(layers), I): P − N of every searched unit
    positive: np.ndarray  # (len(layers), I) mean over positives
    negative: np.ndarray

    def units(self) -> dict[int, torch.Tensor]:
        out: dict[int, list[int]] = {}
        for layer, idx in zip(self.unit_layer.tolist(), self.unit_index.tolist()):
            out.setdefault(int(layer), []).append(int(idx))
        return {k: torch.tensor(sorted(v), dtype=torch.long) for k, v in out.items()}

    def per_layer(self) -> dict[int, int]:
        return {int(layer): int((self.unit_layer == layer).sum()) for layer in self.layers}


def select_units(positive: np.ndarray, negative: np.ndarray, layers: list[int], top_n: int) -> Selection:
    """The ``top_n`` (layer, unit) pairs with the largest mean-activation difference ``positive − negative``."""
    diff = np.asarray(positive, float) - np.asarray(negative, float)
    flat = np.argsort(-diff, axis=None, kind="stable")[:top_n]
    li, ui = np.unravel_index(flat, diff.shape)
    return Selection(tuple(layers), np.asarray(layers)[li], ui.astype(int), diff[li, ui], diff, np.asarray(positive), np.asarray(negative))
