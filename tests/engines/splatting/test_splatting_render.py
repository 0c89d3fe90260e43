"""The exact rasteriser against a brute-force per-pixel reference, and S²/RC limits that must reproduce it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engines.splatting import Config
from engines.splatting.camera import Camera, intrinsics_for, look_at, orbit_path
from engines.splatting.pipeline import Renderer, psnr, ssim
from engines.splatting.rasterizer import render_exact, to_device
from engines.splatting.scene import SH_C0, Scene, procedural_scene

# ---- an independent, slow reference: 3DGS's forward pass written per pixel, per Gaussian, in float64 ----------
C1 = 0.4886025119029199
C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396]
C3 = [-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
      1.445305721320277, -0.5900435899266435]


def _sh_color(sh, d, deg):
    x, y, z = d
    res = SH_C0 * sh[0]
    if deg > 0:
        res = res - C1 * y * sh[1] + C1 * z * sh[2] - C1 * x * sh[3]
    if deg > 1:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        res = (res + C2[0] * xy * sh[4] + C2[1] * yz * sh[5] + C2[2] * (2 * zz - xx - yy) * sh[6] + C2[3] * xz * sh[7]
               + C2[4] * (xx - yy) * sh[8])
    if deg > 2:
        res = (res + C3[0] * y * (3 * xx - yy) * sh[9] + C3[1] * xy * z * sh[10] + C3[2] * y * (4 * zz - xx - yy) * sh[11]
               + C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * sh[12] + C3[4] * x * (4 * zz - xx - yy) * sh[13]
               + C3[5] * z * (xx - yy) * sh[14] + C3[6] * x * (xx - 3 * yy) * sh[15])
    return np.maximum(res + 0.5, 0.0)


def _rot(q):
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def brute_force(scene: Scene, cam: Camera, near=0.2, deg=3):
    W, H = cam.width, cam.height
    gx, gy = math.ceil(W / 16), math.ceil(H / 16)
    Rw, tw = cam.viewmat[:3, :3], cam.viewmat[:3, 3]
    campos = cam.position
    splats = []
    for i in range(scene.n):
        m = scene.means[i].astype(np.float64)
        x, y, z = Rw @ m + tw
        if z <= near:
            continue
        R = _rot(scene.quats[i].astype(np.float64))
        S = np.diag(np.exp(scene.log_scales[i].astype(np.float64)))
        Sigma = R @ S @ S.T @ R.T
        limx, limy = 1.3 * 0.5 * W / cam.fx, 1.3 * 0.5 * H / cam.fy
        txc, tyc = np.clip(x / z, -limx, limx) * z, np.clip(y / z, -limy, limy) * z
        J = np.array([[cam.fx / z, 0, -cam.fx * txc / z**2], [0, cam.fy / z, -cam.fy * tyc / z**2]])
        cov = J @ Rw @ Sigma @ Rw.T @ J.T + 0.3 * np.eye(2)
        det = np.linalg.det(cov)
        if det <= 0:
            continue
        con = np.linalg.inv(cov)
        mid = 0.5 * (cov[0, 0] + cov[1, 1])
        r = math.ceil(3 * math.sqrt(mid + math.sqrt(max(0.1, mid * mid - det))))
        u, v = cam.fx * x / z + cam.cx, cam.fy * y / z + cam.cy
        x0, x1 = min(max(math.floor((u - r) / 16), 0), gx), min(max(math.floor((u + r) / 16) + 1, 0), gx)
        y0, y1 = min(max(math.floor((v - r) / 16), 0), gy), min(max(math.floor((v + r) / 16) + 1, 0), gy)
        if x1 <= x0 or y1 <= y0:
            continue
        d = (m - campos) / np.linalg.norm(m - campos)
        col = _sh_color(scene.sh[i].astype(np.float64), d, min(deg, scene.sh_degree))
        op = 1 / (1 + math.exp(-float(scene.opacity_logit[i])))
        splats.append((z, u, v, con, op, col, (x0, y0, x1, y1)))
    splats.sort(key=lambda s: s[0])
    rgb, depth, alpha = np.zeros((H, W, 3)), np.zeros((H, W)), np.zeros((H, W))
    for py in range(H):
        for px in range(W):
            tx, ty = px // 16, py // 16
            T, C, D = 1.0, np.zeros(3), 0.0
            for z, u, v, con, op, col, (x0, y0, x1, y1) in splats:
                if not (x0 <= tx < x1 and y0 <= ty < y1):
                    continue
                dx, dy = px + 0.5 - u, py + 0.5 - v
                power = -0.5 * (con[0, 0] * dx * dx + con[1, 1] * dy * dy) - con[0, 1] * dx * dy
                if power > 0:
                    continue
                a = min(0.99, op * math.exp(power))
                if a < 1 / 255:
                    continue
                test_T = T * (1 - a)
                if test_T < 1e-4:
                    break
                C += col * a * T
                D += z * a * T
                T = test_T
            rgb[py, px], depth[py, px], alpha[py, px] = C, D, 1 - T
    return rgb, depth, alpha


def random_scene(n=70, seed=0, opaque_stack=14) -> Scene:
    rng = np.random.default_rng(seed)
    means = np.c_[rng.uniform(-1.6, 1.6, n), rng.uniform(-1.0, 1.0, n), rng.uniform(-0.8, 1.5, n)]
    means[:opaque_stack, :2] *= 0.1  # a stack of opaque Gaussians in the middle drives T below 1e-4
    log_scales = np.log(rng.uniform(0.05, 0.5, (n, 3)))
    log_scales[n // 3: n // 2, 0] = np.log(0.9)  # some strongly anisotropic ones
    log_scales[n // 3: n // 2, 1] = np.log(0.02)
    logit = rng.normal(0.5, 1.5, n)
    logit[:opaque_stack] = 6.0
    sh = rng.normal(0, 0.4, (n, 16, 3))
    sh[:, 0] = rng.normal(0, 1.2, (n, 3))
    return Scene(means.astype(np.float32), sh.astype(np.float32), logit.astype(np.float32), log_scales.astype(np.float32),
                 rng.normal(size=(n, 4)).astype(np.float32), name="random")


def small_camera(W=40, H=28):
    fx, fy, cx, cy = intrinsics_for(W, H, 70.0)
    return Camera(look_at([0.3, -4.0, 0.8], [0.0, 0.0, 0.2]), fx, fy * 1.05, cx + 0.7, cy - 0.4, W, H)


@pytest.mark.parametrize("compaction, chunk, deg", [("pixel", 4, 3), ("tile", 8, 3), ("pixel", 32, 1)])
def test_exact_renderer_matches_brute_force_reference(compaction, chunk, deg):
    scene, cam = random_scene(), small_camera()
    ref_rgb, ref_depth, ref_alpha = brute_force(scene, cam, deg=deg)
    g = to_device(scene, torch.device("cpu"), torch.float64, sh_degree=deg)
    f = render_exact(g, cam, chunk=chunk, compaction=compaction, pack=16)
    assert ref_alpha.max() > 0.999 and ref_alpha.min() < 0.5  # the scene exercises saturation and partial cover
    assert np.abs(f.rgb - ref_rgb).max() <= 1e-4
    assert np.abs(f.depth - ref_depth).max() <= 1e-4
    assert np.abs(f.alpha - ref_alpha).max() <= 1e-4


def test_tight_tile_culling_changes_no_pixel():
    scene, cam = random_scene(seed=4), small_camera(48, 32)
    g = to_device(scene, torch.device("cpu"), torch.float64)
    tight, loose = render_exact(g, cam, tight=True), render_exact(g, cam, tight=False)
    assert tight.pairs < loose.pairs
    assert np.abs(tight.rgb - loose.rgb).max() <= 1e-12


def test_float32_renderer_is_close_to_float64():
    scene, cam = procedural_scene(3000, seed=2), orbit_path([0, 0, 0.7], 6.5, 2.0, 1, 0, 64, 40, 60, start_deg=-90)[0]
    a = render_exact(to_device(scene, torch.device("cpu"), torch.float32), cam)
    b = render_exact(to_device(scene, torch.device("cpu"), torch.float64), cam)
    assert np.abs(a.rgb - b.rgb).mean() < 1e-5
    assert psnr(a.rgb, b.rgb) > 60


def _cams(n=3, W=64, H=40, deg=6.0):
    return orbit_path([0, 0, 0.7], 6.5, 2.0, n, deg, W, H, 60, start_deg=-90)


def test_s2_that_sorts_every_frame_is_the_exact_renderer():
    scene = procedural_scene(3000, seed=1)
    cfg = Config(method="s2", s2_window=1, dtype="float64")
    g = to_device(scene, torch.device("cpu"), torch.float64)
    ex, s2 = Renderer(g, cfg, "exact"), Renderer(g, cfg)
    for cam in _cams():
        a, b = ex.render(cam), s2.render(cam)
        assert b.info["s2_resort"]
        assert np.abs(a.rgb - b.rgb).max() <= 1e-9


@pytest.mark.parametrize("share", ["order", "lists"])
def test_s2_reuse_is_approximate_but_close(share):
    scene = procedural_scene(3000, seed=1)
    cfg = Config(method="s2", s2_window=10, s2_share=share, s2_margin_px=2.0, s2_max_angle_deg=90)
    g = to_device(scene, torch.device("cpu"), torch.float32)
    ex, s2 = Renderer(g, cfg, "exact"), Renderer(g, cfg)
    out = [(ex.render(c), s2.render(c)) for c in _cams(3, deg=3.0)]
    assert [bool(b.info["s2_resort"]) for _, b in out] == [True, False, False]
    assert out[0][1].rgb.tobytes() != b"" and psnr(out[0][0].rgb, out[0][1].rgb) > 60
    assert min(psnr(a.rgb, b.rgb) for a, b in out) > 30
    assert any(np.abs(a.rgb - b.rgb).max() > 0 for a, b in out[1:])  # reuse really happened


def test_rc_that_never_reaches_k_is_the_exact_renderer():
    scene = procedural_scene(3000, seed=1)
    cfg = Config(method="rc", rc_k=64, dtype="float64")
    g = to_device(scene, torch.device("cpu"), torch.float64)
    cam = _cams(1)[0]
    a, b = Renderer(g, cfg, "exact").render(cam), Renderer(g, cfg).render(cam)
    assert b.info["rc_candidates"] == 0 or b.info["rc_hits"] + b.info["rc_shared"] == 0
    assert np.abs(a.rgb - b.rgb).max() <= 1e-9


def test_rc_hit_on_a_repeated_pose_reuses_the_pixels_own_remainder():
    # a fine position key makes every key pixel-unique: the second frame hits its own entries and must equal exact
    scene = procedural_scene(3000, seed=1)
    cfg = Config(method="rc", rc_k=2, rc_pos_step=0.001, rc_share_in_frame=False, rc_lifetime=3, dtype="float64")
    g = to_device(scene, torch.device("cpu"), torch.float64)
    cam = _cams(1)[0]
    rc = Renderer(g, cfg)
    first, second = rc.render(cam), rc.render(cam)
    exact = Renderer(g, cfg, "exact").render(cam)
    assert first.info["rc_hits"] == 0 and second.info["rc_hits"] == second.info["rc_candidates"] > 100
    assert second.evaluations < 0.8 * exact.evaluations
    assert np.abs(second.rgb - exact.rgb).max() <= 1e-7
    assert (second.hitmap == 1).sum() == second.info["rc_hits"]


def test_rc_coarse_keys_share_more_and_lose_more():
    scene = procedural_scene(6000, seed=1)
    g = to_device(scene, torch.device("cpu"), torch.float32)
    cam = _cams(1, 96, 64)[0]
    exact = Renderer(g, Config(), "exact").render(cam)
    coarse = Renderer(g, Config(method="rc", rc_k=2, rc_pos_step=0.0)).render(cam)
    fine = Renderer(g, Config(method="rc", rc_k=2, rc_pos_step=0.25)).render(cam)
    assert coarse.info["rc_shared"] > fine.info["rc_shared"]
    assert psnr(exact.rgb, coarse.rgb) < psnr(exact.rgb, fine.rgb)


def test_psnr_and_ssim_limits():
    a = np.random.default_rng(0).uniform(size=(32, 32, 3))
    assert psnr(a, a) == math.inf and abs(ssim(a, a) - 1) < 1e-9
    assert abs(psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)) - 20.0) < 1e-9
    assert ssim(a, 1 - a) < 0.1
