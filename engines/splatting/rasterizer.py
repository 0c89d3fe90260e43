"""The exact tile rasteriser of 3D Gaussian Splatting (Kerbl et al. 2023), vectorised in torch.

Stages (each timed): **project** (world → camera, EWA covariance, culling, 3σ radius, tile rectangle),
**shade** (SH colour for the view direction), **bin** (one entry per tile–Gaussian pair), **sort** (by tile,
then depth), **blend** (front-to-back alpha compositing per pixel in tile order).

Blending is the hot path. Per pixel p and Gaussian i (pair of a tile and its sorted list)::

    α_i(p) = min(0.99, o_i exp(-½ dᵀ Σ'_i⁻¹ d)),  d = p - μ'_i    skipped when α < 1/255
    C(p) = Σ_i c_i α_i T_i,   T_i = Π_{j<i} (1 - α_j),  stop before the Gaussian that takes T below 1e-4

It is computed for a batch of tiles and a chunk of each tile's list at once. The exponent is one small
matmul: with pixel offsets (x, y) from the tile centre, the features P = [x², xy, y², x, y, 1] (the same for
every tile) times per-pair coefficients G = [-a/2, -b, -c/2, a uₓ + b u_y, b uₓ + c u_y, -½(a uₓ² + 2b uₓu_y + c u_y²)
+ ln o] give ln α directly, so opacity costs nothing and ``exp`` is the only transcendental. Coordinates
relative to the tile centre keep every term small enough for float32. Transmittance is a cumulative product
along the chunk, colour and depth are batched matmuls of the weights with the chunk's colours. Tiles whose
pixels are all finished leave the batch (3DGS's per-tile early exit), and the chunk length grows as the
batch shrinks so that long lists cost few Python steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .camera import Camera
from .sh import eval_sh

TILE = 16
ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
LOW_PASS = 0.3


class StageClock:
    """Milliseconds per stage (project, shade, bin, sort, blend), synchronising CUDA before each reading."""

    STAGES = ("project", "shade", "bin", "sort", "blend")

    def __init__(self, device: torch.device):
        self.device = device
        self.ms = {s: 0.0 for s in self.STAGES}
        self._t = None

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def start(self) -> None:
        self._t = self._now()

    def lap(self, stage: str) -> None:
        t = self._now()
        self.ms[stage] += 1000.0 * (t - self._t)
        self._t = t

    @property
    def total(self) -> float:
        return sum(self.ms.values())


@dataclass
class GaussianTensors:
    """A scene on the device: means, 3D covariances (from quaternion and scale), ln opacity, SH."""

    means: torch.Tensor  # (N, 3)
    cov3d: torch.Tensor  # (N, 3, 3)
    log_opacity: torch.Tensor  # (N,)
    sh: torch.Tensor  # (N, K, 3)
    sh_degree: int

    @property
    def n(self) -> int:
        return self.means.shape[0]


def quat_scale_to_cov(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Σ = R S Sᵀ Rᵀ with R from the normalised quaternion (w, x, y, z) and S = diag(scale)."""
    q = quats / quats.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    R = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=1).view(-1, 3, 3)
    M = R * scales[:, None, :]
    return M @ M.transpose(1, 2)


def to_device(scene, device: torch.device, dtype: torch.dtype, splat_scale: float = 1.0, sh_degree: int = 3) -> GaussianTensors:
    """Activate a stored scene: σ(opacity logit) kept as ln σ = -softplus(-logit), exp(log scale) · splat_scale, Σ."""
    f = dict(device=device, dtype=dtype)
    means = torch.as_tensor(scene.means, **f)
    scales = torch.exp(torch.as_tensor(scene.log_scales, **f)) * splat_scale
    cov = quat_scale_to_cov(torch.as_tensor(scene.quats, **f), scales)
    logit = torch.as_tensor(scene.opacity_logit, **f)
    deg = min(sh_degree, scene.sh_degree)
    sh = torch.as_tensor(scene.sh[:, : (deg + 1) ** 2, :], **f)
    return GaussianTensors(means, cov, -torch.nn.functional.softplus(-logit), sh, deg)


@dataclass
class Projected:
    """Visible Gaussians of one view (rows index ``ids`` into the scene)."""

    ids: torch.Tensor  # (V,) scene indices
    means2d: torch.Tensor  # (V, 2) pixels
    conic: torch.Tensor  # (V, 3): a, b, c of Σ'⁻¹ = [[a, b], [b, c]]
    depth: torch.Tensor  # (V,)
    radius: torch.Tensor  # (V,) pixels, ceil(3 sqrt(λ_max))
    rect: torch.Tensor  # (V, 4) tile x0, y0, x1, y1 (end exclusive)
    log_opacity: torch.Tensor  # (V,)
    colors: torch.Tensor | None = None  # (V, 3), filled by shade()


def project(g: GaussianTensors, cam: Camera, near: float, ids: torch.Tensor | None = None, margin_px: float = 0.0,
            cull: bool = True) -> Projected:
    """EWA splatting (Zwicker et al.): Σ' = J W Σ Wᵀ Jᵀ + 0.3 I, W the view rotation, J the perspective Jacobian.

    J = [[fx/z, 0, -fx x/z²], [0, fy/z, -fy y/z²]] at the camera-space mean, with x/z and y/z clamped to 1.3×
    the half field of view as the 3DGS code does. Culled: depth ≤ near, a singular Σ', or a 3σ square
    (radius + ``margin_px``) that touches no tile. With ``cull=False`` (S² re-projection of a fixed list),
    nothing is dropped: culled Gaussians get ln opacity = -inf instead.
    """
    dev, dt = g.means.device, g.means.dtype
    V = torch.as_tensor(cam.viewmat, device=dev, dtype=dt)
    Rw, tw = V[:3, :3], V[:3, 3]
    means = g.means if ids is None else g.means[ids]
    p = means @ Rw.T + tw
    z = p[:, 2]
    keep = z > near
    if cull:
        sel = torch.nonzero(keep).squeeze(1)
        ids = sel if ids is None else ids[sel]
        p, z, keep = p[sel], z[sel], keep[sel]
    elif ids is None:
        ids = torch.arange(g.n, device=dev)
    cov = g.cov3d[ids]
    zs = torch.where(keep, z, torch.ones_like(z))
    limx, limy = 1.3 * 0.5 * cam.width / cam.fx, 1.3 * 0.5 * cam.height / cam.fy
    tx = (p[:, 0] / zs).clamp(-limx, limx) * zs
    ty = (p[:, 1] / zs).clamp(-limy, limy) * zs
    zero = torch.zeros_like(zs)
    J = torch.stack([cam.fx / zs, zero, -cam.fx * tx / zs**2, zero, cam.fy / zs, -cam.fy * ty / zs**2], 1).view(-1, 2, 3)
    T = J @ Rw
    c2 = T @ cov @ T.transpose(1, 2)
    a = c2[:, 0, 0] + LOW_PASS
    b = c2[:, 0, 1]
    c = c2[:, 1, 1] + LOW_PASS
    det = a * c - b * b
    keep = keep & (det > 0)
    det_s = torch.where(keep, det, torch.ones_like(det))
    conic = torch.stack([c / det_s, -b / det_s, a / det_s], 1)
    mid = 0.5 * (a + c)
    lam = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1))
    radius = torch.ceil(3.0 * torch.sqrt(lam))
    u = cam.fx * p[:, 0] / zs + cam.cx
    v = cam.fy * p[:, 1] / zs + cam.cy
    gx, gy = math.ceil(cam.width / TILE), math.ceil(cam.height / TILE)
    r = radius + margin_px
    x0 = torch.floor((u - r) / TILE).clamp(0, gx)
    x1 = (torch.floor((u + r) / TILE) + 1).clamp(0, gx)
    y0 = torch.floor((v - r) / TILE).clamp(0, gy)
    y1 = (torch.floor((v + r) / TILE) + 1).clamp(0, gy)
    rect = torch.stack([x0, y0, x1, y1], 1).long()
    keep = keep & (x1 > x0) & (y1 > y0)
    logop = g.log_opacity[ids]
    if cull:
        sel = torch.nonzero(keep).squeeze(1)
        return Projected(ids[sel], torch.stack([u, v], 1)[sel], conic[sel], z[sel], radius[sel], rect[sel], logop[sel])
    logop = torch.where(keep, logop, torch.full_like(logop, -math.inf))
    rect = torch.where(keep[:, None], rect, torch.zeros_like(rect))
    return Projected(ids, torch.stack([u, v], 1), conic, z, radius, rect, logop)


def shade(g: GaussianTensors, proj: Projected, cam: Camera) -> None:
    """Colour = SH_d(normalize(μ - camera centre)) + 0.5, clamped at 0 (3DGS's computeColorFromSH)."""
    campos = torch.as_tensor(cam.position, device=g.means.device, dtype=g.means.dtype)
    dirs = g.means[proj.ids] - campos
    dirs = dirs / dirs.norm(dim=1, keepdim=True).clamp_min(1e-12)
    proj.colors = (eval_sh(g.sh[proj.ids], dirs, g.sh_degree) + 0.5).clamp_min(0.0)


@dataclass
class TileLists:
    """Per tile, a depth-ordered list of rows of a Projected: ``order[start[t]:end[t]]``."""

    order: torch.Tensor  # (pairs,) row indices into the Projected arrays
    start: torch.Tensor  # (tiles,)
    end: torch.Tensor  # (tiles,)
    gx: int
    gy: int

    @property
    def pairs(self) -> int:
        return int(self.order.shape[0])


def bin_pairs(proj: Projected, gx: int, tight: bool = True, margin_px: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One (tile, row) pair for every tile inside each Gaussian's 3σ rectangle, without a Python loop.

    With ``tight``, a pair is dropped when the Gaussian's α stays below 1/255 over the whole tile: the
    smallest Mahalanobis distance q from the mean to the rectangle spanned by the tile's pixel centres
    (zero inside, else the minimum of the quadratic on the four edges, closed form) gives the largest
    α = o e^{-q/2} in the tile. Every pixel would skip such a pair anyway, so the image is unchanged.
    ``margin_px`` widens each tile's rectangle (S²: the mean may move that far before the list is rebuilt).
    """
    x0, y0, x1, y1 = proj.rect.unbind(1)
    w = x1 - x0
    counts = w * (y1 - y0)
    rows = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)
    first = torch.cumsum(counts, 0) - counts
    k = torch.arange(rows.shape[0], device=counts.device) - first[rows]
    tx = x0[rows] + k % w[rows]
    ty = y0[rows] + k // w[rows]
    tiles = ty * gx + tx
    if tight and rows.numel():
        dt = proj.means2d.dtype
        u, v = proj.means2d[rows, 0], proj.means2d[rows, 1]
        a, b, c = proj.conic[rows].unbind(1)
        lx0 = (tx * TILE).to(dt) + 0.5 - u - margin_px
        lx1 = lx0 + (TILE - 1 + 2 * margin_px)
        ly0 = (ty * TILE).to(dt) + 0.5 - v - margin_px
        ly1 = ly0 + (TILE - 1 + 2 * margin_px)
        inside = (lx0 <= 0) & (lx1 >= 0) & (ly0 <= 0) & (ly1 >= 0)

        def q(dx, dy):
            return a * dx * dx + 2 * b * dx * dy + c * dy * dy

        qmin = torch.minimum(
            torch.minimum(q(lx0, (-b * lx0 / c).clamp(ly0, ly1)), q(lx1, (-b * lx1 / c).clamp(ly0, ly1))),
            torch.minimum(q((-b * ly0 / a).clamp(lx0, lx1), ly0), q((-b * ly1 / a).clamp(lx0, lx1), ly1)),
        )
        qmin = torch.where(inside, torch.zeros_like(qmin), qmin)
        # keep when max α ≥ 1/255, with a small safety margin so rounding never drops a contributing pair
        sel = torch.nonzero(proj.log_opacity[rows] - 0.5 * qmin >= math.log(ALPHA_MIN) - 1e-3).squeeze(1)
        tiles, rows = tiles[sel], rows[sel]
    return tiles, rows


def group_by_tile(tiles: torch.Tensor, rows: torch.Tensor, gx: int, gy: int) -> TileLists:
    """Pairs already in depth order (rows ascending = nearer first) grouped by tile with a stable sort of the tile id alone."""
    _, perm = torch.sort(tiles.to(torch.int32), stable=True)
    counts = torch.bincount(tiles, minlength=gx * gy)
    end = torch.cumsum(counts, 0)
    return TileLists(rows[perm], end - counts, end, gx, gy)


def sort_pairs(tiles: torch.Tensor, rows: torch.Tensor, depth: torch.Tensor, gx: int, gy: int) -> TileLists:
    """Sort pairs by the 64-bit key (tile << 32 | depth rank), as 3DGS's radix sort does."""
    rank = torch.empty_like(rows[: depth.shape[0]]) if depth.shape[0] else torch.empty(0, dtype=torch.long, device=depth.device)
    order_d = torch.argsort(depth)
    rank[order_d] = torch.arange(depth.shape[0], device=depth.device)
    key = tiles * (1 << 32) + rank[rows]
    _, perm = torch.sort(key)
    st = tiles[perm]
    n_t = gx * gy
    counts = torch.bincount(st, minlength=n_t)
    end = torch.cumsum(counts, 0)
    return TileLists(rows[perm], end - counts, end, gx, gy)


# ---- blending ----------------------------------------------------------------------------------------
@dataclass
class PixelState:
    """Running per-pixel blend state, flat over the tile-major pixel layout (+1 dummy slot at the end)."""

    T: torch.Tensor
    C: torch.Tensor
    D: torch.Tensor
    done: torch.Tensor
    ncontrib: torch.Tensor
    # radiance-cache lead phase: state after the first k contributors and their ids
    Tk: torch.Tensor | None = None
    Ck: torch.Tensor | None = None
    Dk: torch.Tensor | None = None
    lead_ids: torch.Tensor | None = None


@dataclass
class Units:
    """Blend work units: each is one tile's list and a set of m pixels of that tile (flat state indices)."""

    tile: torch.Tensor  # (U,)
    pix: torch.Tensor  # (U, m) flat pixel indices (dummy slot for padding)
    P: torch.Tensor  # (1 or U, m, 6) pixel features relative to the tile centre


@dataclass
class BlendStats:
    evaluations: int = 0  # pixel–Gaussian exponent evaluations actually computed (padding included)
    steps: int = 0


@dataclass
class Layout:
    """The tile-major pixel layout of an image: flat index = tile * 256 + local pixel."""

    width: int
    height: int
    gx: int
    gy: int
    P_local: torch.Tensor  # (256, 6) [x², xy, y², x, y, 1] relative to the tile centre
    xy_local: torch.Tensor  # (256, 2)
    valid: torch.Tensor  # (tiles * 256,) inside the image
    img_index: torch.Tensor  # (tiles * 256,) row-major image index (0 where invalid)
    tile_center: torch.Tensor  # (tiles, 2)

    @property
    def n_pix(self) -> int:
        return self.valid.shape[0]


def make_layout(width: int, height: int, device, dtype) -> Layout:
    gx, gy = math.ceil(width / TILE), math.ceil(height / TILE)
    j, i = torch.meshgrid(torch.arange(TILE, device=device), torch.arange(TILE, device=device), indexing="ij")
    lx = (i.reshape(-1) + 0.5 - TILE / 2).to(dtype)
    ly = (j.reshape(-1) + 0.5 - TILE / 2).to(dtype)
    P = torch.stack([lx * lx, lx * ly, ly * ly, lx, ly, torch.ones_like(lx)], 1)
    t = torch.arange(gx * gy, device=device)
    tx, ty = t % gx, t // gx
    px = (tx[:, None] * TILE + i.reshape(-1)[None, :]).reshape(-1)
    py = (ty[:, None] * TILE + j.reshape(-1)[None, :]).reshape(-1)
    valid = (px < width) & (py < height)
    img = torch.where(valid, py * width + px, torch.zeros_like(px))
    centers = torch.stack([tx * TILE + TILE / 2, ty * TILE + TILE / 2], 1).to(dtype)
    return Layout(width, height, gx, gy, P, torch.stack([lx, ly], 1), valid, img, centers)


def new_state(layout: Layout, device, dtype, lead_k: int = 0) -> PixelState:
    n = layout.n_pix + 1
    done = torch.ones(n, dtype=torch.bool, device=device)
    done[:-1] = ~layout.valid
    st = PixelState(torch.ones(n, device=device, dtype=dtype), torch.zeros(n, 3, device=device, dtype=dtype),
                    torch.zeros(n, device=device, dtype=dtype), done, torch.zeros(n, dtype=torch.long, device=device))
    if lead_k:
        st.Tk = torch.ones(n, device=device, dtype=dtype)
        st.Ck = torch.zeros(n, 3, device=device, dtype=dtype)
        st.Dk = torch.zeros(n, device=device, dtype=dtype)
        st.lead_ids = torch.full((n, lead_k), -1, dtype=torch.long, device=device)
    return st


def tile_units(layout: Layout, tiles: torch.Tensor) -> Units:
    """One unit per given tile, holding all its 256 pixels (tile-level scheduling)."""
    pix = tiles[:, None] * (TILE * TILE) + torch.arange(TILE * TILE, device=tiles.device)[None, :]
    return Units(tiles, pix, layout.P_local[None])


def packed_units(layout: Layout, active: torch.Tensor, g: int) -> Units:
    """Pixel compaction: each tile's unfinished pixels (flat indices, tile-major order) packed into rows of ``g``."""
    dev = active.device
    n = layout.n_pix
    per = TILE * TILE
    tile = active // per
    counts = torch.bincount(tile, minlength=layout.gx * layout.gy)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(active.numel(), device=dev) - first[tile]
    rows_per_tile = (counts + g - 1) // g
    row0 = torch.cumsum(rows_per_tile, 0) - rows_per_tile
    unit = row0[tile] + rank // g
    U = int(rows_per_tile.sum())
    pix = torch.full((U, g), n, dtype=torch.long, device=dev)
    pix[unit, rank % g] = active
    unit_tile = torch.zeros(U, dtype=torch.long, device=dev)
    unit_tile[unit] = tile
    P_ext = torch.cat([layout.P_local, torch.zeros(1, 6, dtype=layout.P_local.dtype, device=dev)])
    local = torch.where(pix < n, pix % per, torch.full_like(pix, per))
    return Units(unit_tile, pix, P_ext[local])


def blend_step(units: Units, ptr: torch.Tensor, L: int, state: PixelState, proj: Projected, lists: TileLists, layout: Layout,
               budget: int, stats: BlendStats, lead_k: int = 0) -> None:
    """Blend Gaussians ``ptr[tile] .. ptr[tile] + L`` of each unit's tile list into its pixels.

    The (B, m, L) work is seven passes: matmul, clamp, exp, threshold, 1 - α, cumprod, α·T_prev; the pixel's
    entering transmittance T₀ multiplies after the colour matmul, and the T < 1e-4 cut-off mask is only
    built for the few pixels that cross it within the step. ``lead_k`` also tracks the state after each
    pixel's first k contributors and their ids (radiance cache).
    """
    dev = state.T.device
    dt = state.T.dtype
    alpha_floor = float(np.nextafter(np.asarray(ALPHA_MIN, dtype=np.float32 if dt == torch.float32 else np.float64), -1))
    ln_alpha_max = math.log(ALPHA_MAX)
    mu, conic = proj.means2d, proj.conic
    per_unit_P = units.P.shape[0] > 1
    m = units.pix.shape[1]
    per_batch = max(1, budget // (m * L))
    for b0 in range(0, units.tile.numel(), per_batch):
        t = units.tile[b0:b0 + per_batch]
        B = t.numel()
        j = lists.start[t][:, None] + ptr[t][:, None] + torch.arange(L, device=dev)[None, :]
        inlist = j < lists.end[t][:, None]
        rows = lists.order[j.clamp(max=max(lists.pairs - 1, 0))]
        ctr = layout.tile_center[t]
        ux = mu[rows, 0] - ctr[:, 0:1]
        uy = mu[rows, 1] - ctr[:, 1:2]
        cn = conic[rows]
        a, bb, c = cn[..., 0], cn[..., 1], cn[..., 2]
        lo = torch.where(inlist, proj.log_opacity[rows], torch.full_like(ux, -math.inf))
        # ln α = P · G  (module docstring); G rows: -a/2, -b, -c/2, a uₓ + b u_y, b uₓ + c u_y, const + ln o
        G = torch.stack([-0.5 * a, -bb, -0.5 * c, a * ux + bb * uy, bb * ux + c * uy,
                         -0.5 * (a * ux * ux + 2 * bb * ux * uy + c * uy * uy) + lo], 1)  # (B, 6, L)
        Pm = units.P[b0:b0 + per_batch] if per_unit_P else units.P
        pix = units.pix[b0:b0 + per_batch]
        done = state.done[pix]  # (B, m)
        T_in = state.T[pix]
        T0 = torch.where(done, torch.zeros_like(T_in), T_in)  # finished pixels take no light
        alpha = torch.matmul(Pm, G)  # ln α, (B, m, L)
        alpha.clamp_(max=ln_alpha_max).exp_()  # α = min(0.99, o e^{power})
        torch.nn.functional.threshold_(alpha, alpha_floor, 0.0)  # skip α < 1/255
        cp = torch.cumprod(torch.rsub(alpha, 1.0), dim=2)  # Π (1 - α) within the chunk
        w = alpha
        w[:, :, 1:] *= cp[:, :, :-1]  # α_i Π_{j<i}(1 - α_j); times T₀ below
        T_end = T0 * cp[:, :, -1]
        stopped = T_end < T_MIN
        cross = torch.nonzero(stopped.reshape(-1) & ~done.reshape(-1)).squeeze(1)
        if cross.numel():  # stop before the Gaussian that takes T below 1e-4
            wf, cf = w.view(-1, L), cp.view(-1, L)
            T_after = cf[cross] * T0.reshape(-1)[cross, None]
            keep = T_after >= T_MIN
            wf[cross] = wf[cross] * keep
            T_cross = torch.where(keep, T_after, torch.full_like(T_after, math.inf)).amin(1)
            T_end.view(-1)[cross] = torch.minimum(T_cross, T0.reshape(-1)[cross])
        # colour, depth and Σw in one matmul: w (B, m, L) @ [r, g, b, z, 1] (B, L, 5)
        feats = torch.cat([proj.colors[rows], proj.depth[rows][:, :, None], torch.ones_like(ux)[:, :, None]], 2)
        acc = torch.bmm(w, feats)
        flat = pix.reshape(-1)
        state.C.index_add_(0, flat, (T0[:, :, None] * acc[:, :, :3]).reshape(-1, 3))
        state.D.index_add_(0, flat, (T0 * acc[:, :, 3]).reshape(-1))
        if lead_k:
            nc = state.ncontrib[pix]
            in_lead = (nc < lead_k) & ~done
            n_lead = int(in_lead.sum())
            if n_lead > in_lead.numel() // 2:  # most pixels still leading: work on the whole batch
                _lead_full(state, pix, w, feats, T0, nc, in_lead, rows, proj.ids, lead_k)
            elif n_lead:  # a few stragglers: only their rows
                li = torch.nonzero(in_lead.reshape(-1)).squeeze(1)
                bi = li // m
                _lead_rows(state, pix.reshape(-1)[li], w.view(-1, L)[li], feats[bi], T0.reshape(-1)[li], nc.reshape(-1)[li],
                           torch.ones_like(li, dtype=torch.bool), rows[bi], proj.ids, lead_k)
        state.T[pix] = torch.where(done, T_in, T_end)
        state.done[pix] = done | stopped
        state.done[-1] = True
        stats.evaluations += B * m * L
        stats.steps += 1


def _lead_full(state, pix, w, feats, T0, nc, leading, rows, ids, k):
    """Radiance-cache bookkeeping on a (B, m, L) batch: C_k, D_k, T_k and the ids of each pixel's first k contributors."""
    contrib = w > 0
    cnt = nc[:, :, None] + torch.cumsum(contrib, 2)
    lead = contrib & (cnt <= k)
    accl = torch.bmm(w * lead, feats)
    state.Ck[pix] = state.Ck[pix] + T0[:, :, None] * accl[:, :, :3]
    state.Dk[pix] = state.Dk[pix] + T0 * accl[:, :, 3]
    # a pixel still leading entered with T₀ = T_k, and Σ_lead w = 1 - T_k,new / T₀
    state.Tk[pix] = torch.where(leading, T0 * (1 - accl[:, :, 4]), state.Tk[pix])
    e = torch.nonzero(lead)
    state.lead_ids[pix[e[:, 0], e[:, 1]], cnt[e[:, 0], e[:, 1], e[:, 2]] - 1] = ids[rows[e[:, 0], e[:, 2]]]
    state.ncontrib[pix] = cnt[:, :, -1]


def _lead_rows(state, pix, w, feats, T0, nc, leading, rows, ids, k):
    """The same for a few pixels: ``w`` (n, L) and ``feats`` (n, L, 5) are theirs alone."""
    contrib = w > 0
    cnt = nc[:, None] + torch.cumsum(contrib, 1)
    lead = contrib & (cnt <= k)
    accl = torch.bmm((w * lead)[:, None, :], feats)[:, 0]
    state.Ck[pix] = state.Ck[pix] + T0[:, None] * accl[:, :3]
    state.Dk[pix] = state.Dk[pix] + T0 * accl[:, 3]
    state.Tk[pix] = torch.where(leading, T0 * (1 - accl[:, 4]), state.Tk[pix])
    e = torch.nonzero(lead)
    state.lead_ids[pix[e[:, 0]], cnt[e[:, 0], e[:, 1]] - 1] = ids[rows[e[:, 0], e[:, 1]]]
    state.ncontrib[pix] = cnt[:, -1]


def blend(state: PixelState, proj: Projected, lists: TileLists, layout: Layout, *, chunk: int, budget: int, compaction: str,
          pack: int, stats: BlendStats, lead_k: int = 0, after_step=None) -> None:
    """Run blending rounds until every pixel is finished.

    Each round blends the next L Gaussians of every tile that still has unfinished pixels: whole tiles
    (``compaction = tile``: a tile leaves when all its pixels are done, 3DGS's early exit) or only the
    unfinished pixels packed into rows of ``pack`` (``pixel``: no work for finished pixels). L starts at
    ``chunk`` and grows (to fill ``budget`` evaluations per round) as the work shrinks. All pixels of a
    tile advance together, so one list position per tile suffices. ``after_step(state)`` may finish more
    pixels between rounds (the radiance cache's look-up).
    """
    dev = state.T.device
    n = layout.n_pix
    per = TILE * TILE
    length = lists.end - lists.start
    ptr = torch.zeros_like(length)
    state.done[:n] |= (length == 0).repeat_interleave(per)
    L_prev = 0
    while True:
        open_pix = ~state.done[:n]
        if compaction == "tile":
            tiles = torch.nonzero(open_pix.view(-1, per).any(1)).squeeze(1)
            if tiles.numel() == 0:
                break
            units = tile_units(layout, tiles)
            work = tiles.numel() * per
        else:
            active = torch.nonzero(open_pix).squeeze(1)
            if active.numel() == 0:
                break
            units = packed_units(layout, active, pack)
            tiles = torch.unique(units.tile)
            work = units.pix.numel()
        want = max(chunk, min(2 * L_prev, budget // max(1, work)))  # doubles per round while the budget allows
        L = max(1, min(1 << int(math.log2(max(want, 1))), int((length[tiles] - ptr[tiles]).max())))
        L_prev = L
        blend_step(units, ptr, L, state, proj, lists, layout, budget, stats, lead_k)
        ptr[tiles] += L
        ended = tiles[ptr[tiles] >= length[tiles]]
        if ended.numel():
            state.done[(ended[:, None] * per + torch.arange(per, device=dev)[None, :]).reshape(-1)] = True
        if after_step is not None:
            after_step(state)


@dataclass
class Frame:
    """One rendered frame: RGB (H, W, 3), expected depth Σ w z, alpha 1 - T, and bookkeeping."""

    rgb: np.ndarray
    depth: np.ndarray
    alpha: np.ndarray
    stage_ms: dict
    visible: int
    pairs: int
    evaluations: int
    hitmap: np.ndarray | None = None  # RC: 0 exact, 1 cache hit (previous frames), 2 shared within the frame, 3 leader/miss
    info: dict = field(default_factory=dict)


def to_image(layout: Layout, flat: torch.Tensor) -> torch.Tensor:
    """Scatter a tile-major per-pixel array into row-major (H, W, ...)."""
    H, W = layout.height, layout.width
    out = torch.zeros((H * W,) + tuple(flat.shape[1:]), dtype=flat.dtype, device=flat.device)
    v = layout.valid
    out[layout.img_index[v]] = flat[:-1][v]
    return out.view((H, W) + tuple(flat.shape[1:]))


def finish(layout: Layout, state: PixelState, background: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rgb = to_image(layout, state.C + state.T[:, None] * background)
    return (rgb.cpu().numpy().astype(np.float32), to_image(layout, state.D).cpu().numpy().astype(np.float32),
            (1.0 - to_image(layout, state.T)).cpu().numpy().astype(np.float32))


def render_exact(g: GaussianTensors, cam: Camera, *, near: float = 0.2, background: float = 0.0, chunk: int = 32,
                 budget: int = 4_000_000, layout: Layout | None = None, tight: bool = True, compaction: str = "pixel",
                 pack: int = 64) -> Frame:
    """The reference pipeline: project → shade → bin → sort → blend, every stage every frame."""
    dev, dt = g.means.device, g.means.dtype
    clock = StageClock(dev)
    clock.start()
    layout = layout or make_layout(cam.width, cam.height, dev, dt)
    proj = project(g, cam, near)
    clock.lap("project")
    shade(g, proj, cam)
    clock.lap("shade")
    tiles, rows = bin_pairs(proj, layout.gx, tight)
    clock.lap("bin")
    lists = sort_pairs(tiles, rows, proj.depth, layout.gx, layout.gy)
    clock.lap("sort")
    state = new_state(layout, dev, dt)
    stats = BlendStats()
    blend(state, proj, lists, layout, chunk=chunk, budget=budget, compaction=compaction, pack=pack, stats=stats)
    rgb, depth, alpha = finish(layout, state, background)
    clock.lap("blend")
    return Frame(rgb, depth, alpha, dict(clock.ms), int(proj.ids.shape[0]), lists.pairs, stats.evaluations)
