"""Start the Paper Workbench window, or write screenshots (--screenshot); nothing else."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

NO_DISPLAY = (
    "paper-workbench: no display. Run `xvfb-run -a make run` for a virtual one, or "
    "`python main.py --screenshot all --out DIR` to write the panels as PNG files."
)


MAX_SIZE = (7680, 4320)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x800, got {text!r}") from None
    if w < 200 or h < 200:
        raise argparse.ArgumentTypeError(f"at least 200x200, got {text!r}")
    if w > MAX_SIZE[0] or h > MAX_SIZE[1]:  # a 100000x100000 grab is 40 GB of pixels: refused, not attempted
        raise argparse.ArgumentTypeError(f"at most {MAX_SIZE[0]}x{MAX_SIZE[1]}, got {text!r}")
    return w, h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description="Paper Workbench: one dockable panel per paper.")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="compute device for engine jobs")
    parser.add_argument("--screenshot", metavar="PANEL_ID|all", help="write a screenshot of a panel (or all) and exit")
    parser.add_argument("--out", help="with --screenshot: a .png file, or a folder for 'all'")
    parser.add_argument("--size", type=_size, default=(1280, 800), help="panel screenshot size, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    if args.screenshot and not args.out:
        parser.error("--screenshot needs --out")

    if not _has_display():
        if args.screenshot and shutil.which("xvfb-run") and not os.environ.get("PAPER_WORKBENCH_XVFB"):
            # Screenshots need a GL context (vispy), which a virtual X server gives and offscreen Qt does not.
            os.environ["PAPER_WORKBENCH_XVFB"] = "1"
            cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, os.path.abspath(__file__), *sys.argv[1:]]
            os.execvp(cmd[0], cmd)
        print(NO_DISPLAY, file=sys.stderr)
        return 2

    from app import style
    from app.jobs import set_device
    from engines import device

    try:
        device.resolve(args.device)
    except ValueError as err:
        print(f"paper-workbench: {err}", file=sys.stderr)
        return 2
    set_device(args.device)
    app = style.application(sys.argv[:1])

    if args.screenshot:
        from app.screenshot import shoot

        try:
            for path in shoot(args.screenshot, args.out, args.size):
                print(path)
        except (ValueError, OSError) as err:  # an unknown panel, an --out that cannot be written
            print(f"paper-workbench: {err}", file=sys.stderr)
            return 2
        return 0

    from app.jobs import stop_every_job
    from app.log import log_uncaught_exceptions
    from app.main_window import MainWindow

    log_uncaught_exceptions()
    window = MainWindow()
    window.show()
    code = app.exec()
    if not stop_every_job(5000):  # an engine still inside a long step: its running QThread must not be destroyed
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
