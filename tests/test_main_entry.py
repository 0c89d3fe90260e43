"""main.py: one clear line without a display, clear errors, and a whole-window screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from panels import PANELS
from tests.screenshots.compare import load

ROOT = Path(__file__).resolve().parent.parent


def _env_without_display() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PAPER_WORKBENCH_XVFB"] = "1"  # no re-exec under xvfb-run
    return env


def _main(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_without_a_display_main_says_how_to_get_one_in_one_line():
    out = _main(env=_env_without_display(), timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "xvfb-run" in lines[0] and "--screenshot" in lines[0]


def test_unknown_panel_screenshot_is_refused_clearly(tmp_path):
    out = _main("--screenshot", "no_such_panel", "--out", str(tmp_path / "x.png"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("paper-workbench: panel: unknown panel 'no_such_panel' (allowed: ")


def test_unwritable_screenshot_path_and_bad_size_are_refused_in_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = _main("--screenshot", PANELS[0].id, "--out", str(blocker / "x.png"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"paper-workbench: [Errno 17] File exists: '{blocker}'"]
    out = _main("--size", "10x10", timeout=60)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1] == "main.py: error: argument --size: at least 200x200, got '10x10'"
    out = _main("--size", "100000x100000", timeout=60)  # 40 GB of pixels: refused before anything is built
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].endswith("at most 7680x4320, got '100000x100000'")


def test_window_screenshot_shows_the_docks(tmp_path):
    # In a fresh process, as a user runs it (the same-process path is exercised by main.py --screenshot all).
    code = (
        "import sys; from app import style; from app.screenshot import window_image; "
        "style.application(); window_image(timeout_s=60).save(sys.argv[1])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "window.png")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    image = load(tmp_path / "window.png")
    assert image.shape == (900, 1440, 4)
    assert image[..., :3].std() > 10


def test_an_exception_in_a_slot_reaches_the_log_dock_and_the_app_keeps_running():
    code = (
        "from PySide6.QtCore import QTimer; from app import style; from app.log import LogView, log_uncaught_exceptions\n"
        "app = style.application(); view = LogView(); log_uncaught_exceptions()\n"
        "def draw(): raise RuntimeError('panel failed to draw')\n"
        "QTimer.singleShot(0, draw); QTimer.singleShot(200, app.quit); app.exec()\n"
        "print(view.toPlainText())\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ERROR workbench.app: uncaught RuntimeError: panel failed to draw" in out.stdout and "in draw" in out.stdout
