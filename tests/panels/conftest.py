"""Panel tests build their panel the same way: its own job runner, the screenshot size, owned by qtbot.

Jobs the test leaves running are stopped by the autouse fixture in tests/conftest.py.
"""

from __future__ import annotations

import pytest

from app.jobs import JobRunner


@pytest.fixture
def build_panel(qtbot):
    def build(panel_cls, show: bool = False):
        panel = panel_cls(runner=JobRunner())
        qtbot.addWidget(panel)
        panel.resize(1280, 800)
        if show:
            panel.show()
        return panel

    return build
