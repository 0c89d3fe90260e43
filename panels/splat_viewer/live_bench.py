"""Measure the live viewport: frames shown per second while the camera orbits, and the longest GUI event-loop gap.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m panels.splat_viewer.live_bench --scene garden

The panel is built as in the app, its viewport fixed at ``--size`` (648×420 by default); a 16 ms timer orbits
the camera 0.5° per tick (as a steady drag would) for ``--seconds``, then the camera stops. A 5 ms timer
records the gaps between its ticks: a gap is the time the GUI thread was busy elsewhere. Prints one JSON
line: fps while moving, the mean render-thread time of a preview frame, how long after the stop the
full-resolution frame appeared and what it cost, the longest and 99th-percentile gaps, gaps over 100 ms.
"""

from __future__ import annotations

import argparse
import json
import time

from app import style


def measure(scene: str = "garden", size=(648, 420), seconds: float = 6.0, moving: str = "1/4") -> dict:
    from PySide6.QtCore import QTimer

    from app.jobs import JobRunner
    from engines.splatting import load_config_scene
    from panels.splat_viewer import SplatViewerPanel

    app = style.application()
    panel = SplatViewerPanel(runner=JobRunner())
    cfg = panel.config().replace(scene=scene)
    panel.set_config(cfg)
    vp = panel.viewport
    vp.set_scene(load_config_scene(cfg), cfg)
    panel.resize(size[0] + 760, size[1] + 480)
    panel.show()
    vp.gl.setFixedSize(*size)
    vp.moving_box.setCurrentText(moving)

    def spin(sec: float) -> None:
        end = time.monotonic() + sec
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.002)

    spin(3.0)  # the first full frame
    gaps, last, shown = [], [time.perf_counter()], []

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    vp.worker.rendered.connect(lambda f: shown.append((time.perf_counter(), f.scale, f.render_ms)))
    gap_timer, move_timer = QTimer(), QTimer()
    gap_timer.setInterval(5)
    gap_timer.timeout.connect(tick)
    move_timer.setInterval(16)
    move_timer.timeout.connect(lambda: (vp.orbit.orbit(0.5, 0.0), vp.camera_moved()))
    last[0] = time.perf_counter()
    gap_timer.start()
    move_timer.start()
    spin(seconds)
    move_timer.stop()
    stopped = time.perf_counter()
    spin(2.0)
    gap_timer.stop()
    preview = [(t, ms) for t, s, ms in shown if t < stopped]  # at the moving resolution
    full = [(t - stopped, ms) for t, s, ms in shown if t >= stopped and s == 1]
    g = sorted(gaps)
    out = dict(scene=scene, size=list(size), moving_resolution=moving, splats=vp.scene.n,
               fps_moving=round((len(preview) - 1) / (preview[-1][0] - preview[0][0]), 2) if len(preview) > 1 else 0.0,
               preview_render_ms=round(sum(ms for _, ms in preview) / max(len(preview), 1), 1),
               full_frame_after_stop_s=round(full[0][0], 3) if full else None,
               full_render_ms=round(full[0][1]) if full else None,
               longest_gap_ms=round(1000 * g[-1], 1), p99_gap_ms=round(1000 * g[int(0.99 * (len(g) - 1))], 1),
               gaps_over_100ms=sum(x > 0.1 for x in g))
    panel.close()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m panels.splat_viewer.live_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--scene", default="garden", help="garden or procedural")
    ap.add_argument("--size", default="648x420", help="viewport size WxH in pixels")
    ap.add_argument("--seconds", type=float, default=6.0, help="how long the camera orbits")
    ap.add_argument("--moving", default="1/4", choices=["full", "1/2", "1/3", "1/4"], help="resolution while moving")
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    print(json.dumps(measure(a.scene, (w, h), a.seconds, a.moving)))


if __name__ == "__main__":
    main()
