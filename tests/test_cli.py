"""The headless CLI: list, describe, and one clear line with exit code 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engines import ENGINES

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engines", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_list_names_every_engine_without_importing_torch():
    out = cli("list")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(ENGINES)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, runpy; sys.argv=['engines','list']; "
         "import engines.__main__ as m; m.main(['list']); print('torch' in sys.modules, 'cvxpy' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("name", list(ENGINES))
def test_run_with_an_unknown_field_exits_2_with_one_line(name):
    out = cli("run", name, "--set", "nonsense=1", "--out", "/tmp/never-written")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: nonsense: no such field (allowed: ")
    assert not Path("/tmp/never-written").exists()


def test_unknown_engine_and_malformed_set_exit_2():
    out = cli("run", "no_such_engine", "--out", "/tmp/x")
    assert out.returncode == 2 and "unknown engine 'no_such_engine'" in out.stderr
    out = cli("run", next(iter(ENGINES)), "--set", "novalue", "--out", "/tmp/x")
    assert out.returncode == 2 and "expected NAME=VALUE" in out.stderr


@pytest.mark.parametrize("name", list(ENGINES))
def test_describe_shows_every_field(name):
    from engines import load

    out = cli("describe", name)
    assert out.returncode == 0, out.stderr
    for row in load(name).Config.describe():
        assert f"  {row['name']} = " in out.stdout


def test_run_writes_the_summary_and_figures_with_progress_on_stderr(tmp_path):
    out = cli("run", "memory_pool", "--set", "n_requests=4", "--set", "policy=elastic", "--device", "cpu", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "result.json").read_text()), "result.json holds the summary"
    assert f'"out": "{tmp_path}"' in out.stdout
    assert list(tmp_path.glob("*.png")), "run writes the figures a user wants as PNG"
    assert "[" + "#" * 30 + "] 100.0%" in out.stderr


@pytest.mark.parametrize("command", ["run", "bench"])
def test_bad_device_or_output_folder_exits_2_with_one_line_before_any_work(command, tmp_path):
    name = next(iter(ENGINES))
    out = cli(command, name, "--device", "tpu", "--out", str(tmp_path / "a"))
    assert out.returncode == 2 and out.stderr.strip().splitlines() == ["error: device: unknown device 'tpu' (allowed: auto, cpu, cuda)"]
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = cli(command, name, "--device", "cpu", "--out", str(blocker / "sub"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: --out {blocker / 'sub'}: cannot create the folder (Not a directory)"]
