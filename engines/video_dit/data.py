"""Clips of moving shapes: the in-project video data set, drawn from a seed.

A clip is ``frames`` grayscale frames of ``size`` × ``size`` pixels in [-1, 1]: one shape (square, disc, triangle)
of random size and brightness moving in one of four directions at constant speed over a dark background, drawn
with 4× supersampling so that edges are anti-aliased. The class label is ``shape * len(MOTIONS) + motion``.
"""

from __future__ import annotations

import numpy as np

SHAPES = ("square", "disc", "triangle")
MOTIONS = ("right", "left", "down", "up")
N_CLASSES = len(SHAPES) * len(MOTIONS)
_DIRECTIONS = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "down": (0.0, 1.0), "up": (0.0, -1.0)}
_SS = 4  # supersampling factor per axis


def class_name(label: int) -> str:
    """``disc moving up`` for a class label."""
    if not 0 <= label < N_CLASSES:
        raise ValueError(f"class: {label} is not a class (allowed: 0..{N_CLASSES - 1})")
    return f"{SHAPES[label // len(MOTIONS)]} moving {MOTIONS[label % len(MOTIONS)]}"


def _mask(shape: str, xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    dx, dy = xs - cx, ys - cy
    if shape == "square":
        return (np.abs(dx) <= r) & (np.abs(dy) <= r)
    if shape == "disc":
        return dx * dx + dy * dy <= r * r
    # upward triangle inscribed in the circle of radius r: apex at the top, base below the centre
    top, bottom = cy - r, cy + 0.5 * r
    half = (ys - top) / (bottom - top) * (r * 0.866 * 1.0)
    return (ys >= top) & (ys <= bottom) & (np.abs(dx) <= half)


def draw_clip(label: int, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    """One clip of class ``label``: float32 [frames, size, size] in [-1, 1]."""
    shape, motion = SHAPES[label // len(MOTIONS)], MOTIONS[label % len(MOTIONS)]
    r = size * rng.uniform(0.14, 0.22)
    speed = size * rng.uniform(0.045, 0.07)  # pixels per frame
    ux, uy = _DIRECTIONS[motion]
    travel = speed * (frames - 1)
    lo, hi = r + 0.5, size - r - 0.5
    # start so that the whole path stays inside the frame
    sx = rng.uniform(lo - min(0.0, ux * travel), hi - max(0.0, ux * travel))
    sy = rng.uniform(lo - min(0.0, uy * travel), hi - max(0.0, uy * travel))
    brightness = rng.uniform(0.6, 1.0)
    grid = (np.arange(size * _SS) + 0.5) / _SS
    xs, ys = np.meshgrid(grid, grid)
    clip = np.empty((frames, size, size), np.float32)
    for f in range(frames):
        cx, cy = sx + ux * speed * f, sy + uy * speed * f
        cover = _mask(shape, xs, ys, cx, cy, r).reshape(size, _SS, size, _SS).mean(axis=(1, 3))
        clip[f] = -1.0 + (1.0 + brightness) * cover
    return clip


def make_batch(seed: int, count: int, frames: int, size: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` clips from ``seed``: (clips float32 [count, frames, size, size], labels int64 [count])."""
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = rng.integers(0, N_CLASSES, size=count)
    labels = np.asarray(labels, dtype=np.int64)
    clips = np.stack([draw_clip(int(c), rng, frames, size) for c in labels])
    return clips, labels
