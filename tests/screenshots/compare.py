"""Image regression with a tolerance: count pixels whose largest channel differs by more than a threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

CHANNEL_THRESHOLD = 32  # a pixel "differs" when any channel moves by more than this (0..255)
MAX_DIFFERING_FRACTION = 0.0005  # ...and the image fails when more than 0.05 % of pixels differ


def to_array(image: QImage) -> np.ndarray:
    """H×W×4 uint8 RGBA copy of a QImage."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
    return buf.reshape(h, img.bytesPerLine())[:, : 4 * w].reshape(h, w, 4).copy()


def from_array(arr: np.ndarray) -> QImage:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def load(path: Path) -> np.ndarray:
    image = QImage(str(path))
    if image.isNull():
        raise OSError(f"{path}: not a readable PNG")
    return to_array(image)


def differing(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Boolean H×W mask of pixels whose largest channel difference exceeds the threshold."""
    delta = np.abs(actual[..., :3].astype(np.int16) - expected[..., :3].astype(np.int16)).max(axis=2)
    return delta > CHANNEL_THRESHOLD


def diff_image(actual: np.ndarray, expected: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The expected image faded to grey with differing pixels in red."""
    grey = expected[..., :3].mean(axis=2, keepdims=True).astype(np.uint8) // 2 + 100
    out = np.concatenate([np.repeat(grey, 3, axis=2), np.full(mask.shape + (1,), 255, np.uint8)], axis=2)
    out[mask] = (255, 0, 0, 255)
    return out
