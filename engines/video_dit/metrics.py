"""Offline video metrics against the full-compute video from the same noise: PSNR, SSIM, temporal flicker.

Pixels live in [-1, 1]; the metrics see images in [0, 1] (clipped), so PSNR = 10·log10(1 / MSE). SSIM is
scikit-image's default algorithm (uniform 7 × 7 window, data range 1) per frame. Flicker error is the mean absolute error of
the frame-to-frame differences (what moves where the reference does not). LPIPS, FVD and VBench need backbone
weights from the internet and are not computed.
"""

from __future__ import annotations

import numpy as np


def to_unit(video: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(video, np.float64) + 1.0) / 2.0, 0.0, 1.0)


def psnr_db(video: np.ndarray, ref: np.ndarray) -> float:
    """PSNR of a whole clip (or a frame) against the reference, in dB (capped at 100 dB for identical clips)."""
    mse = float(np.mean((to_unit(video) - to_unit(ref)) ** 2))
    return 100.0 if mse <= 1e-10 else float(10.0 * np.log10(1.0 / mse))


def psnr_per_frame(video: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """[frames] PSNR of each frame of one clip [F, H, W]."""
    return np.array([psnr_db(video[f], ref[f]) for f in range(video.shape[0])])


def ssim_frame(a: np.ndarray, b: np.ndarray, win: int = 7, data_range: float = 1.0) -> float:
    """SSIM of two images as scikit-image computes it by default (Wang et al. 2004): a uniform win × win window,
    sample covariances, K1 = 0.01, K2 = 0.03, the mean over windows lying wholly inside the image. (scikit-image is
    not installed here; this is its algorithm, checked in the tests against a window-by-window loop.)"""
    from scipy.ndimage import uniform_filter

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n = win * win
    cov = n / (n - 1)
    ux, uy = uniform_filter(a, win), uniform_filter(b, win)
    vx = cov * (uniform_filter(a * a, win) - ux * ux)
    vy = cov * (uniform_filter(b * b, win) - uy * uy)
    vxy = cov * (uniform_filter(a * b, win) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean())


def ssim(video: np.ndarray, ref: np.ndarray) -> float:
    """Mean SSIM over the frames of one clip [F, H, W] (images in [0, 1])."""
    a, b = to_unit(video), to_unit(ref)
    win = min(7, min(a.shape[-2:]) - (1 - min(a.shape[-2:]) % 2))
    return float(np.mean([ssim_frame(a[f], b[f], win) for f in range(a.shape[0])]))


def flicker_error(video: np.ndarray, ref: np.ndarray) -> float:
    """Mean |Δ_t video − Δ_t ref| over consecutive frames, in [0, 1] pixel units."""
    a, b = to_unit(video), to_unit(ref)
    return float(np.mean(np.abs(np.diff(a, axis=0) - np.diff(b, axis=0))))


def score_batch(videos: np.ndarray, refs: np.ndarray) -> dict:
    """Mean PSNR / SSIM / flicker over a batch [B, F, H, W], and the video-mean PSNR per frame."""
    p = [psnr_db(v, r) for v, r in zip(videos, refs)]
    return {
        "psnr_db": float(np.mean(p)),
        "psnr_db_std": float(np.std(p)),
        "ssim": float(np.mean([ssim(v, r) for v, r in zip(videos, refs)])),
        "flicker": float(np.mean([flicker_error(v, r) for v, r in zip(videos, refs)])),
        "psnr_per_frame": np.mean([psnr_per_frame(v, r) for v, r in zip(videos, refs)], axis=0),
    }
