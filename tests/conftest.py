"""Shared test set-up: the workbench style on the test QApplication, settings in a temp file, screenshot switch."""

from __future__ import annotations

import os
import sys

import pytest

assert "numpy" not in sys.modules, "app must set the thread pools before numpy loads"
import app  # noqa: E402,F401  (leaves a core to the GUI thread: see app/__init__.py)

os.environ.setdefault("PYTHONHASHSEED", "0")

from hypothesis import HealthCheck, settings  # noqa: E402

# property-based tests stay bounded inside `make test`: examples per test, no per-example deadline (shared CPUs)
settings.register_profile("workbench", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "workbench"))


def pytest_addoption(parser):
    parser.addoption("--update-screenshots", action="store_true", help="rewrite tests/screenshots/baselines/*.png")


@pytest.fixture(scope="session", autouse=True)
def _settings_file(tmp_path_factory):
    os.environ["PAPER_WORKBENCH_SETTINGS"] = str(tmp_path_factory.mktemp("settings") / "workbench.ini")
    yield


@pytest.fixture(scope="session")
def qapp(qapp_args, qapp_cls, pytestconfig):
    """pytest-qt's application, styled like the workbench (font, Fusion, palette)."""
    from app import style

    return style.application(qapp_args or ["pytest"])


@pytest.fixture
def update_screenshots(pytestconfig) -> bool:
    return bool(pytestconfig.getoption("--update-screenshots"))


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test():
    """A test's jobs are stopped and their threads joined before the next test (and before exit)."""
    yield
    from app.jobs import stop_every_job

    stop_every_job()
