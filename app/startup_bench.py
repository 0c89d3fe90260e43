"""Start-up benchmark: how long a fresh process takes to a responsive window with every registered panel.

    xvfb-run -a python -m app.startup_bench [--runs 7] [--out bench.json]

Each run starts a new interpreter that builds the window as ``main.py`` does and reports, in seconds since the
parent spawned it: ``responsive_s`` (the first event-loop turn after the window is shown: it paints and takes
input from here on), ``first_panel_s`` (the visible dock's panel built; docks build their panel when first shown),
and the longest event-loop gap from show until the first panel's default job started. The parent prints the
median, min and max of each over the runs as one JSON document. Timings, not tests: nothing asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import os, sys, time, json
t0 = float(os.environ["STARTUP_T0"])
def since(): return time.monotonic() - t0
marks = {"interpreter_s": since()}
from app import style
from app.main_window import MainWindow
from PySide6.QtCore import QTimer
marks["imports_s"] = since()
app = style.application(["startup_bench"])
window = MainWindow(restore=False)
window.show()
marks["shown_s"] = since()
gaps, last = [], [time.monotonic()]
def beat():
    now = time.monotonic(); gaps.append(now - last[0]); last[0] = now
timer = QTimer(); timer.setInterval(5); timer.timeout.connect(beat); timer.start()
def responsive():
    marks["responsive_s"] = since()
QTimer.singleShot(0, responsive)
def poll():
    if window.panels and "first_panel_s" not in marks:
        marks["first_panel_s"] = since()
    if window.panels and window.runner.jobs:
        marks["first_job_started_s"] = since()
        marks["longest_gap_ms"] = 1000 * max(gaps) if gaps else 0.0
        marks["panels_registered"] = len(window.docks)
        marks["panels_built"] = len(window.panels)
        print("STARTUP " + json.dumps(marks), flush=True)
        window.runner.stop_all()
        os._exit(0)
    QTimer.singleShot(5, poll)
QTimer.singleShot(0, poll)
QTimer.singleShot(120_000, lambda: os._exit(3))
app.exec()
"""


def one_run(env: dict) -> dict:
    env = dict(env, STARTUP_T0=repr(time.monotonic()))
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=180)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("STARTUP ")), None)
    if line is None:
        raise RuntimeError(f"start-up run failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(line[len("STARTUP "):])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.startup_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", help="write the JSON report here too")
    args = parser.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")):
        print("startup_bench: no display; run it under xvfb-run -a", file=sys.stderr)
        return 2
    env = dict(os.environ, PAPER_WORKBENCH_SETTINGS=os.path.join(os.environ.get("TMPDIR", "/tmp"), "startup_bench.ini"))
    one_run(env)  # warm-up: the file cache, fonts, Python's bytecode
    runs = [one_run(env) for _ in range(max(1, args.runs))]
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    report = {k: {"median": statistics.median(r[k] for r in runs), "min": min(r[k] for r in runs), "max": max(r[k] for r in runs)}
              for k in keys}
    from engines import threads

    report.update(runs=len(runs), panels_registered=runs[0]["panels_registered"], panels_built_at_start=runs[0]["panels_built"],
                  threads=threads.describe())
    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
