"""The log dock: every ``logging`` record of the workbench, shown in a read-only text view."""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPlainTextEdit


class _Bridge(QObject):
    record = Signal(str)


class LogHandler(logging.Handler):
    """Forwards records to the GUI thread through a queued signal (safe from worker threads)."""

    def __init__(self):
        super().__init__()
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.record.emit(self.format(record))
        except RuntimeError:  # the view is gone (shutdown)
            pass


class LogView(QPlainTextEdit):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.handler = LogHandler()
        self.handler.bridge.record.connect(self.appendPlainText)
        root = logging.getLogger("workbench")
        root.setLevel(logging.INFO)
        root.addHandler(self.handler)

    def detach(self) -> None:
        logging.getLogger("workbench").removeHandler(self.handler)


def log_uncaught_exceptions() -> None:
    """An exception that reaches the event loop (a panel failing to draw a snapshot, say) goes to the log dock too.

    Qt keeps running after such an exception; without this hook it would show only on stderr.
    """

    def hook(kind, err, tb) -> None:
        logging.getLogger("workbench.app").error("uncaught %s: %s\n%s", kind.__name__, err, "".join(traceback.format_tb(tb)))
        sys.__excepthook__(kind, err, tb)

    sys.excepthook = hook
