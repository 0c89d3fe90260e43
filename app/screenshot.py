"""Screenshots of panels and of the whole window, for users (``main.py --screenshot``) and tests.

A panel's screenshot builds the panel at a fixed size, runs its default job to completion in this
thread (deterministic: fixed seed, CPU unless told otherwise) and grabs the widget, GL views included.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app import style
from panels import PANELS, spec

DEFAULT_SIZE = (1280, 800)


def _settle(ms: int = 200) -> None:
    app = QApplication.instance()
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def panel_image(panel_id: str, size: tuple[int, int] = DEFAULT_SIZE) -> QImage:
    """Build ``panel_id``, run its default job, return the rendered widget."""
    style.application()
    panel = spec(panel_id).factory()
    try:
        panel.resize(*size)
        panel.show()
        _settle()
        panel.run_blocking()
        _settle(300)
        return panel.grab().toImage()
    finally:
        panel.stop_jobs()
        panel.close()
        panel.deleteLater()


def window_image(size: tuple[int, int] = (1440, 900), timeout_s: float = 120.0) -> QImage:
    """The whole window with its default layout, after the visible panel's default job finished."""
    from app.main_window import MainWindow

    style.application()
    window = MainWindow(restore=False)
    try:
        window.resize(*size)
        window.show()
        _settle(300)
        deadline = time.monotonic() + timeout_s
        while window.busy() and time.monotonic() < deadline:
            _settle(50)
        _settle(300)
        return window.grab().toImage()
    finally:
        window.close()  # stops the jobs and waits for background imports
        window.deleteLater()


def shoot(target: str, out: str | Path, size: tuple[int, int] = DEFAULT_SIZE) -> list[Path]:
    """``target`` is a panel id (``out`` a .png file) or ``all`` (``out`` a folder: one PNG per panel + window.png)."""
    out = Path(out)
    if target == "all":
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for s in PANELS:
            path = out / f"{s.id}.png"
            _save(panel_image(s.id, size), path)
            written.append(path)
        path = out / "window.png"
        _save(window_image(), path)
        written.append(path)
        return written
    spec(target)  # a clear error for an unknown id
    if out.suffix.lower() != ".png":
        out = out / f"{target}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    _save(panel_image(target, size), out)
    return [out]


def _save(image: QImage, path: Path) -> None:
    if not image.save(str(path)):
        raise OSError(f"{path}: could not write PNG")
