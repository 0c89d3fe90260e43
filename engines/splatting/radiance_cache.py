"""RC — Lumina's radiance caching, reconstructed: a cache keyed by the leading contributing Gaussians of a pixel.

Reading (the paper body was not available): a pixel blends front to back exactly until it has met its first
k contributing Gaussians (α ≥ 1/255). Their ids (and, optionally, the pixel's position inside the first
one's footprint, quantised in standard deviations) form the key. On a hit the pixel takes the cached
*remainder* — the colour, depth and transmittance of everything behind the k-th Gaussian, normalised by the
transmittance T_k left at that point — and skips the rest of its blending::

    C = C_k + T_k R_C,   D = D_k + T_k R_D,   T = T_k R_T        (R from the pixel that computed it)

Entries are written by pixels that missed and blended to the end; they live ``lifetime`` frames and the
cache keeps ``capacity`` entries, evicting the least recently used. Within one frame, pixels with equal
keys can share one remainder (the first pixel in raster order computes it). All of it is vectorised: the
cache is a sorted key tensor searched with ``searchsorted``.
"""

from __future__ import annotations

import torch

_MUL = 1_000_003  # hash multiplier; int64 arithmetic wraps, which is what a hash wants


def cache_keys(lead_ids: torch.Tensor, qpos: torch.Tensor | None) -> torch.Tensor:
    """Fold k ids (and two quantised coordinates) into one int64 key: h ← h·M + x."""
    h = lead_ids[:, 0].clone()
    for j in range(1, lead_ids.shape[1]):  # k steps, vectorised over pixels
        h = h * _MUL + lead_ids[:, j] + 1
    if qpos is not None:  # (n, j, 2): one quantised position per footprint used
        for j in range(qpos.shape[1]):
            h = h * _MUL + (qpos[:, j, 0] + 32768) * 65536 + (qpos[:, j, 1] + 32768)
    return h


def quantised_position(px: torch.Tensor, mu: torch.Tensor, conic: torch.Tensor, step: float) -> torch.Tensor:
    """The pixel's offset from a Gaussian's centre in its whitened frame (units of σ), floored to ``step``.

    With Σ'⁻¹ = [[a, b], [b, c]] = LᵀL, L = [[√a, b/√a], [0, √(c - b²/a)]] and v = L d, |v|² is the exponent's q.
    ``px`` is (n, 2); ``mu`` (n, j, 2) and ``conic`` (n, j, 3) for j footprints; returns (n, j, 2) integers.
    """
    d = px[:, None, :] - mu
    a, b, c = conic.unbind(-1)
    sa = torch.sqrt(a)
    v0 = sa * d[..., 0] + b / sa * d[..., 1]
    v1 = torch.sqrt(torch.clamp(c - b * b / a, min=0)) * d[..., 1]
    return torch.stack([torch.floor(v0 / step), torch.floor(v1 / step)], -1).long().clamp(-32767, 32767)


class RadianceCache:
    """Sorted int64 keys with (R_C rgb, R_D, R_T) values, birth frame and last use; LRU beyond ``capacity``."""

    def __init__(self, capacity: int, lifetime: int, device, dtype):
        self.capacity, self.lifetime = capacity, lifetime
        self.keys = torch.empty(0, dtype=torch.long, device=device)
        self.values = torch.empty(0, 5, dtype=dtype, device=device)
        self.born = torch.empty(0, dtype=torch.long, device=device)
        self.used = torch.empty(0, dtype=torch.long, device=device)
        self.lookups = 0
        self.hits = 0

    def __len__(self) -> int:
        return int(self.keys.numel())

    def lookup(self, q: torch.Tensor, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Hit mask and values for query keys; entries written ``lifetime`` or fewer frames ago are valid."""
        self.lookups += int(q.numel())
        if len(self) == 0 or q.numel() == 0 or self.lifetime == 0:
            return torch.zeros_like(q, dtype=torch.bool), torch.zeros(q.numel(), 5, dtype=self.values.dtype, device=q.device)
        pos = torch.searchsorted(self.keys, q).clamp(max=len(self) - 1)
        hit = (self.keys[pos] == q) & (frame - self.born[pos] <= self.lifetime)
        self.used[pos[hit]] = frame
        self.hits += int(hit.sum())
        return hit, self.values[pos]

    def insert(self, k: torch.Tensor, v: torch.Tensor, frame: int) -> None:
        """Write entries (replacing equal keys), drop expired ones, keep the ``capacity`` most recently used."""
        if self.capacity == 0 or self.lifetime == 0 or k.numel() == 0:
            return
        k, first = _first_occurrence(k)
        v = v[first]
        keep = ~torch.isin(self.keys, k) & (frame - self.born < self.lifetime)
        keys = torch.cat([self.keys[keep], k])
        values = torch.cat([self.values[keep], v])
        born = torch.cat([self.born[keep], torch.full_like(k, frame)])
        used = torch.cat([self.used[keep], torch.full_like(k, frame)])
        if keys.numel() > self.capacity:
            recent = torch.topk(used * (1 << 20) + born, self.capacity).indices
            keys, values, born, used = keys[recent], values[recent], born[recent], used[recent]
        order = torch.argsort(keys)
        self.keys, self.values, self.born, self.used = keys[order], values[order], born[order], used[order]


def _first_occurrence(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique keys and the index of each one's first occurrence (raster order)."""
    uniq, inv = torch.unique(k, return_inverse=True)
    first = torch.full((uniq.numel(),), k.numel(), dtype=torch.long, device=k.device)
    first.scatter_reduce_(0, inv, torch.arange(k.numel(), device=k.device), reduce="amin")
    return uniq, first


def share_in_frame(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For keys of one frame: which entries lead (first of their key) and, for each entry, its leader's index."""
    uniq, inv = torch.unique(k, return_inverse=True)
    first = torch.full((uniq.numel(),), k.numel(), dtype=torch.long, device=k.device)
    first.scatter_reduce_(0, inv, torch.arange(k.numel(), device=k.device), reduce="amin")
    leader_of = first[inv]
    return leader_of == torch.arange(k.numel(), device=k.device), leader_of
