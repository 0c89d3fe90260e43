"""One look on every machine: Fusion style, a light palette, the bundled DejaVu Sans font.

Screenshot baselines depend on this: the same font file and style give the same pixels anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
FONT_FAMILY = "DejaVu Sans"
FONT_POINT_SIZE = 9


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once and styled."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    apply(app)
    return app


def apply(app: QApplication) -> None:
    for ttf in sorted((RESOURCES / "fonts").glob("*.ttf")):
        QFontDatabase.addApplicationFont(str(ttf))
    app.setStyle("Fusion")
    font = QFont(FONT_FAMILY, FONT_POINT_SIZE)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    app.setFont(font)
    pal = QPalette()
    for role, color in {
        QPalette.ColorRole.Window: "#f3f3f3",
        QPalette.ColorRole.WindowText: "#1a1a1a",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#eeeeee",
        QPalette.ColorRole.Text: "#1a1a1a",
        QPalette.ColorRole.Button: "#e6e6e6",
        QPalette.ColorRole.ButtonText: "#1a1a1a",
        QPalette.ColorRole.Highlight: "#2a6fdb",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#ffffe8",
        QPalette.ColorRole.ToolTipText: "#1a1a1a",
    }.items():
        pal.setColor(role, QColor(color))
    app.setPalette(pal)
    import pyqtgraph as pg

    pg.setConfigOptions(background="w", foreground="#222", antialias=True, useOpenGL=False)  # the one place: panels set none
