"""A frame renderer that carries state across frames: S² (shared sort) and RC (radiance cache) on top of the exact pipeline.

S² — Lumina's sort sharing, reconstructed. Reading: at a reference pose the Gaussians are projected with
footprints widened by ``s2_margin_px`` (a wider field of view: Gaussians just outside the image are kept
too), binned and sorted by (tile, depth) once. The following frames reuse those per-tile lists and their
depth order as they are and only re-project and re-shade: the means, conics, opacities and colours used in
blending are the current frame's, the membership and order are the reference's. A new sort happens by
:class:`sort_sharing.ResortRule` (after ``s2_window`` frames, when the view turns more than ``s2_max_angle_deg`` or
moves more than ``s2_max_translation``; the live viewport follows the same rule), and — with
``s2_guard = strict`` — as soon as a visible Gaussian's footprint leaves its widened reference footprint (then no
Gaussian can be missing from a list; only the order is stale).

RC — see :mod:`radiance_cache`. After the look-up the pixels still to blend are either left in their tiles
(tiles with no such pixel are skipped: ``rc_compaction = tile``) or packed densely into rows of
``rc_pack`` pixels of one tile each (``pixel``), so a tile's work no longer waits for its slowest pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .camera import Camera
from .config import Config
from .radiance_cache import RadianceCache, cache_keys, quantised_position, share_in_frame
from .rasterizer import (
    TILE,
    BlendStats,
    Frame,
    GaussianTensors,
    Layout,
    Projected,
    StageClock,
    TileLists,
    bin_pairs,
    blend,
    finish,
    group_by_tile,
    make_layout,
    new_state,
    project,
    shade,
    sort_pairs,
    to_image,
)
from .sort_sharing import ResortRule


def _select(p: Projected, rows: torch.Tensor) -> Projected:
    return Projected(p.ids[rows], p.means2d[rows], p.conic[rows], p.depth[rows], p.radius[rows], p.rect[rows], p.log_opacity[rows])


def _narrowed(p: Projected, layout: Layout) -> Projected:
    """The same Gaussians with tile rectangles for margin 0 (as :func:`project` computes them); empty ones dropped."""
    u, v, r = p.means2d[:, 0], p.means2d[:, 1], p.radius
    x0 = torch.floor((u - r) / TILE).clamp(0, layout.gx)
    x1 = (torch.floor((u + r) / TILE) + 1).clamp(0, layout.gx)
    y0 = torch.floor((v - r) / TILE).clamp(0, layout.gy)
    y1 = (torch.floor((v + r) / TILE) + 1).clamp(0, layout.gy)
    keep = torch.nonzero((x1 > x0) & (y1 > y0)).squeeze(1)
    p = _select(p, keep)
    p.rect = torch.stack([x0, y0, x1, y1], 1).long()[keep]
    return p


class SortShare:
    """The S² state: reference camera, shared tile lists over a fixed set of Gaussians, frames since the sort."""

    def __init__(self):
        self.ref: Camera | None = None
        self.ids: torch.Tensor | None = None
        self.lists: TileLists | None = None
        self.rect_of: torch.Tensor | None = None  # (N, 4) widened reference rectangle per scene Gaussian
        self.age = 0
        self.sorts = 0

    def needs_sort(self, cam: Camera, cfg: Config) -> str:
        """Why ``cam`` needs a new shared sort ('' = none): the config's :class:`ResortRule`."""
        return ResortRule.from_config(cfg).reason(self.ref, cam, self.age)


class Renderer:
    """Renders frames of one scene with the configured method; ``method = exact`` is the reference pipeline."""

    def __init__(self, g: GaussianTensors, cfg: Config, method: str | None = None):
        self.g, self.cfg = g, cfg
        self.method = method or cfg.method
        self.s2 = SortShare() if self.method in ("s2", "s2+rc") else None
        rc = self.method in ("rc", "s2+rc")
        self.cache = RadianceCache(cfg.rc_capacity, cfg.rc_lifetime, g.means.device, g.means.dtype) if rc else None
        self.frame_no = 0
        self._layout: Layout | None = None

    def layout(self, cam: Camera) -> Layout:
        if self._layout is None or (self._layout.width, self._layout.height) != (cam.width, cam.height):
            self._layout = make_layout(cam.width, cam.height, self.g.means.device, self.g.means.dtype)
        return self._layout

    # ---- geometry: project + shade + bin + sort (or S² reuse) --------------------------------------------
    def _geometry(self, cam: Camera, layout: Layout, clock: StageClock, info: dict):
        cfg, g = self.cfg, self.g
        if self.s2 is None:
            proj = project(g, cam, cfg.near)
            clock.lap("project")
            shade(g, proj, cam)
            clock.lap("shade")
            tiles, rows = bin_pairs(proj, layout.gx)
            clock.lap("bin")
            lists = sort_pairs(tiles, rows, proj.depth, layout.gx, layout.gy)
            clock.lap("sort")
            return proj, lists
        s2 = self.s2
        reason = s2.needs_sort(cam, cfg)
        if not reason and cfg.s2_guard == "strict":
            cur = project(g, cam, cfg.near)
            ref, r = s2.rect_of[cur.ids], cur.rect
            outside = (r[:, 0] < ref[:, 0]) | (r[:, 1] < ref[:, 1]) | (r[:, 2] > ref[:, 2]) | (r[:, 3] > ref[:, 3])
            if bool(outside.any()):
                reason = "guard"
        clock.lap("project")
        if reason:  # the shared sort, at this (reference) pose with widened footprints
            ref = project(g, cam, cfg.near, margin_px=cfg.s2_margin_px)
            clock.lap("project")
            if cfg.s2_share == "lists":
                tiles, rows = bin_pairs(ref, layout.gx, margin_px=cfg.s2_margin_px)
                clock.lap("bin")
                s2.lists = sort_pairs(tiles, rows, ref.depth, layout.gx, layout.gy)
                s2.ids = ref.ids
            else:
                by_depth = torch.argsort(ref.depth)
                s2.ids = ref.ids[by_depth]
            clock.lap("sort")
            s2.ref, s2.age = cam, 0
            if cfg.s2_guard == "strict":
                s2.rect_of = torch.zeros((g.n, 4), dtype=torch.long, device=g.means.device)
                s2.rect_of[ref.ids] = ref.rect
            s2.sorts += 1
        info["s2_resort"] = reason
        s2.age += 1
        if cfg.s2_share == "lists":  # re-project and re-shade the shared lists' Gaussians; no bin, no sort
            proj = project(g, cam, cfg.near, ids=s2.ids, cull=False)
            clock.lap("project")
            shade(g, proj, cam)
            clock.lap("shade")
            return proj, s2.lists
        # order sharing: visible rows stay in the reference depth order, so grouping by tile is all the sorting left
        if reason:  # the reference projection is this frame's too, but for the widened footprints: narrow them again
            proj = _narrowed(_select(ref, by_depth), layout)
        else:
            proj = project(g, cam, cfg.near, ids=s2.ids)
        clock.lap("project")
        shade(g, proj, cam)
        clock.lap("shade")
        tiles, rows = bin_pairs(proj, layout.gx)
        clock.lap("bin")
        lists = group_by_tile(tiles, rows, layout.gx, layout.gy)
        clock.lap("sort")
        return proj, lists

    # ---- one frame ---------------------------------------------------------------------------------------
    def render(self, cam: Camera) -> Frame:
        cfg, g = self.cfg, self.g
        dev, dt = g.means.device, g.means.dtype
        clock = StageClock(dev)
        clock.start()
        layout = self.layout(cam)
        info: dict = {}
        proj, lists = self._geometry(cam, layout, clock, info)
        stats = BlendStats()
        hitmap = None
        kw = dict(chunk=cfg.chunk_gaussians, budget=cfg.pair_budget, compaction=cfg.compaction, pack=cfg.pack, stats=stats)
        if self.cache is None:
            state = new_state(layout, dev, dt)
            blend(state, proj, lists, layout, **kw)
        else:
            rc = _CacheRound(self, proj, layout)
            state = new_state(layout, dev, dt, lead_k=cfg.rc_k)
            blend(state, proj, lists, layout, lead_k=cfg.rc_k, after_step=rc, **kw)
            hit_flat = rc.finish(state, info)
            hitmap = to_image(layout, hit_flat).cpu().numpy().astype(np.uint8)
        rgb, depth, alpha = finish(layout, state, cfg.background)
        clock.lap("blend")
        self.frame_no += 1
        info["evaluations"] = stats.evaluations
        return Frame(rgb, depth, alpha, dict(clock.ms), int(proj.ids.shape[0]), lists.pairs, stats.evaluations, hitmap, info)


class _CacheRound:
    """The radiance cache between blending rounds: pixels that have just met their k-th contributor are keyed,
    looked up (previous frames' entries, then this frame's leaders) and, on a hit, finished at once."""

    def __init__(self, renderer: Renderer, proj, layout: Layout):
        self.r, self.proj, self.layout = renderer, proj, layout
        cfg = renderer.cfg
        self.k, self.step = cfg.rc_k, cfg.rc_pos_step
        dev = proj.means2d.device
        n = layout.n_pix
        self.keyed = torch.zeros(n, dtype=torch.bool, device=dev)
        self.pix, self.keys, self.kind, self.vals, self.leader = [], [], [], [], []
        # this frame's leaders so far (sorted keys -> position in the concatenated record)
        self.table_keys = torch.empty(0, dtype=torch.long, device=dev)
        self.table_pos = torch.empty(0, dtype=torch.long, device=dev)
        self.count = 0
        if self.step > 0:
            self.row_of = torch.full((renderer.g.n,), -1, dtype=torch.long, device=dev)
            self.row_of[proj.ids] = torch.arange(proj.ids.shape[0], device=dev)

    def __call__(self, state) -> None:
        n, k = self.layout.n_pix, self.k
        new = torch.nonzero((state.ncontrib[:n] >= k) & ~state.done[:n] & ~self.keyed).squeeze(1)
        if new.numel() == 0:
            return
        self.keyed[new] = True
        lead = state.lead_ids[new]
        qpos = None
        if self.step > 0:
            r0 = self.row_of[lead if self.r.cfg.rc_pos_of == "all" else lead[:, :1]]
            per = TILE * TILE
            px = self.layout.tile_center[new // per] + self.layout.xy_local[new % per]
            qpos = quantised_position(px, self.proj.means2d[r0], self.proj.conic[r0], self.step)
        keys = cache_keys(lead, qpos)
        hit, vals = self.r.cache.lookup(keys, self.r.frame_no)
        kind = torch.where(hit, 1, 3).to(torch.uint8)  # 1 hit, 2 shared in frame, 3 computed
        pos = torch.arange(self.count, self.count + new.numel(), device=new.device)
        leader = pos.clone()
        if self.r.cfg.rc_share_in_frame:
            mi = torch.nonzero(~hit).squeeze(1)
            if self.table_keys.numel() and mi.numel():  # leaders from earlier rounds
                at = torch.searchsorted(self.table_keys, keys[mi]).clamp(max=self.table_keys.numel() - 1)
                found = self.table_keys[at] == keys[mi]
                leader[mi[found]] = self.table_pos[at[found]]
                kind[mi[found]] = 2
                mi = mi[~found]
            if mi.numel():
                is_leader, lo = share_in_frame(keys[mi])
                leader[mi] = pos[mi[lo]]
                kind[mi[~is_leader]] = 2
                lk, lp = keys[mi[is_leader]], pos[mi[is_leader]]
                tk = torch.cat([self.table_keys, lk])
                order = torch.argsort(tk)
                self.table_keys, self.table_pos = tk[order], torch.cat([self.table_pos, lp])[order]
        state.done[new[kind != 3]] = True  # skipped: the rest of their blending is not done
        self.pix.append(new)
        self.keys.append(keys)
        self.kind.append(kind)
        self.vals.append(vals)
        self.leader.append(leader)
        self.count += new.numel()

    def finish(self, state, info: dict) -> torch.Tensor:
        n = self.layout.n_pix
        dev = state.T.device
        hit_flat = torch.zeros(n + 1, dtype=torch.uint8, device=dev)
        if not self.pix:
            info.update(rc_candidates=0, rc_hits=0, rc_shared=0, rc_entries=len(self.r.cache))
            return hit_flat
        pix, keys, kind = torch.cat(self.pix), torch.cat(self.keys), torch.cat(self.kind)
        vals, leader = torch.cat(self.vals), torch.cat(self.leader)
        # remainders of the pixels that blended to the end: R = (X - X_k) / T_k
        Tk = state.Tk[pix].clamp_min(1e-12)
        rem = torch.cat([(state.C[pix] - state.Ck[pix]) / Tk[:, None], ((state.D[pix] - state.Dk[pix]) / Tk)[:, None],
                         (state.T[pix] / Tk)[:, None]], 1)
        rem = torch.where((kind == 1)[:, None], vals, rem)
        rem = torch.where((kind == 2)[:, None], rem[leader], rem)
        sk = kind != 3
        p, r = pix[sk], rem[sk]
        Tks = state.Tk[p]
        state.C[p] = state.Ck[p] + Tks[:, None] * r[:, :3]
        state.D[p] = state.Dk[p] + Tks * r[:, 3]
        state.T[p] = Tks * r[:, 4]
        self.r.cache.insert(keys[~sk], rem[~sk], self.r.frame_no)
        hit_flat[pix] = kind
        info.update(rc_candidates=int(pix.numel()), rc_hits=int((kind == 1).sum()), rc_shared=int((kind == 2).sum()),
                    rc_entries=len(self.r.cache))
        return hit_flat


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """10 log10(1 / MSE) for images in [0, 1] (clipped); inf for identical images."""
    mse = float(np.mean((np.clip(a, 0, 1).astype(np.float64) - np.clip(b, 0, 1)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004) with an 11-tap Gaussian window (σ 1.5, separable), C1 = 0.01², C2 = 0.03², mean over channels."""
    x = np.clip(a, 0, 1).astype(np.float64)
    y = np.clip(b, 0, 1).astype(np.float64)
    t = np.arange(11) - 5.0
    w = np.exp(-t * t / (2 * 1.5**2))
    w /= w.sum()

    def f(z):  # Gaussian filter along rows then columns, all channels at once; keep the 'valid' part
        from scipy.ndimage import correlate1d

        return correlate1d(correlate1d(z, w, axis=0, mode="nearest"), w, axis=1, mode="nearest")[5:-5, 5:-5]

    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())
