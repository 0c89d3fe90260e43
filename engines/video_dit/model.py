"""The in-project video DiT: pixel-space spatio-temporal patches, factorised position embeddings, adaLN-Zero blocks.

A clip [B, F, H, W] is cut into p × p patches per frame (one token per patch and frame: F · (H/p) · (W/p) tokens);
each token gets a fixed 2-D sin-cos spatial embedding plus a 1-D sin-cos temporal one (factorised 3-D position).
The condition c = t-embedding + class embedding modulates every block through adaLN-Zero (shift, scale, gate for the
attention and the MLP, zero-initialised so every block starts as the identity). The model predicts the rectified-flow
velocity v = ε − x₀ at x_t = (1 − t)·x₀ + t·ε.

The forward pass is written per block (``modulation``, ``qkv``, ``attend_out``, ``mlp``) so that ``astraea`` can run it
on a subset of tokens; :meth:`VideoDiT.forward` is the plain full pass and is itself that code with every token.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .attention import attention


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    half = dim // 2
    omega = 1.0 / 10000 ** (np.arange(half, dtype=np.float64) / half)
    angles = positions.reshape(-1, 1).astype(np.float64) * omega[None]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def position_embedding(dim: int, frames: int, grid: int) -> np.ndarray:
    """[frames · grid · grid, dim]: 2-D sin-cos spatial (half the width each for rows and columns) + 1-D temporal."""
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    spatial = np.concatenate([sincos_1d(dim // 2, rows.ravel()), sincos_1d(dim // 2, cols.ravel())], axis=1)  # [g², d]
    temporal = sincos_1d(dim, np.arange(frames))  # [F, d]
    return (temporal[:, None, :] + spatial[None, :, :]).reshape(frames * grid * grid, dim).astype(np.float32)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.ada = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def modulation(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Six [B, 1, d] tensors: shift/scale/gate of the attention, then of the MLP."""
        return tuple(m.unsqueeze(1) for m in self.ada(F.silu(c)).chunk(6, dim=1))

    def qkv_tokens(self, h: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """[B, n, 3, heads, d_head]: queries, keys and values of the tokens h [B, n, d], token-major."""
        b, n, d = h.shape
        x = self.norm1(h) * (1 + scale) + shift
        return self.qkv(x).view(b, n, 3, self.heads, d // self.heads)

    def qkv_heads(self, h: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """q, k, v [B, heads, n, d_head] of the tokens h [B, n, d]."""
        qkv = self.qkv_tokens(h, shift, scale).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def finish(self, h: torch.Tensor, attn: torch.Tensor, mod: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The rest of the block for the tokens h [B, n, d] whose attention output is attn [B, heads, n, d_head]."""
        _, _, gate1, shift2, scale2, gate2 = mod
        b, n, d = h.shape
        h = h + gate1 * self.proj(attn.transpose(1, 2).reshape(b, n, d))
        x = self.norm2(h) * (1 + scale2) + shift2
        return h + gate2 * self.fc2(F.gelu(self.fc1(x), approximate="tanh"))

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mod = self.modulation(c)
        q, k, v = self.qkv_heads(h, mod[0], mod[1])
        out, _ = attention(q, k, v)
        return self.finish(h, out, mod)


class VideoDiT(nn.Module):
    def __init__(self, frames: int = 8, size: int = 32, patch: int = 4, dim: int = 96, depth: int = 4, heads: int = 4,
                 mlp_ratio: float = 3.0, n_classes: int = 12):
        super().__init__()
        if size % patch:
            raise ValueError(f"patch: {patch} does not divide the frame size {size}")
        self.frames, self.size, self.patch, self.dim = frames, size, patch, dim
        self.grid = size // patch
        self.n_tokens = frames * self.grid * self.grid
        self.embed = nn.Linear(patch * patch, dim)
        self.register_buffer("pos", torch.from_numpy(position_embedding(dim, frames, self.grid)), persistent=False)
        self.t_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.y_embed = nn.Embedding(n_classes, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, patch * patch)
        for m in (self.ada_out, self.out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    # ---- tokens ------------------------------------------------------------------------------------------------
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, F, H, W] → [B, N, p²] in (frame, row, column) token order."""
        b, f, _, _ = x.shape
        g, p = self.grid, self.patch
        return x.view(b, f, g, p, g, p).permute(0, 1, 2, 4, 3, 5).reshape(b, f * g * g, p * p)

    def unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        b = tokens.shape[0]
        g, p, f = self.grid, self.patch, self.frames
        return tokens.view(b, f, g, g, p, p).permute(0, 1, 2, 4, 3, 5).reshape(b, f, g * p, g * p)

    def condition(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.t_mlp(timestep_embedding(t, self.dim)) + self.y_embed(y)

    def embed_tokens(self, patches: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings of patches [B, n, p²] at token positions ``index`` [n] (None = all, in order)."""
        pos = self.pos if index is None else self.pos[index]
        return self.embed(patches) + pos

    def head(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = (m.unsqueeze(1) for m in self.ada_out(F.silu(c)).chunk(2, dim=1))
        return self.out(self.norm_out(h) * (1 + scale) + shift)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Velocity [B, F, H, W] at x_t [B, F, H, W], t [B] in [0, 1], class y [B]."""
        c = self.condition(t, y)
        h = self.embed_tokens(self.patchify(x))
        for block in self.blocks:
            h = block(h, c)
        return self.unpatchify(self.head(h, c))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
