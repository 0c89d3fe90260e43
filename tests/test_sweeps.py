"""Sweeps: bad grids refused before any run, the same table from every backend, nothing finished lost to a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engines
from engines.sweeps import SweepError, config_hash, configs_for, flatten

ROOT = Path(__file__).resolve().parent.parent
# a deterministic, quick engine run: the CBF arm for 0.3 s, no sweep, no Monte Carlo, no backend timings
BASE = {"duration": "0.3", "sweep_points": "0", "backend_samples": "0", "mc_scenarios": "0"}
GRID = {"impulse_ns": ["0.5", "1.5"], "k1": ["4", "8"]}


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "engines", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)


def _deterministic(table) -> list[dict]:
    """Each row's config fields and result figures, without the wall-clock ones."""
    timing = ("ms", "wall", "_s", "realtime", "per_s", "speedup")
    return [{k: v for k, v in r.items() if not any(t in k for t in timing)} for r in table.rows]


def test_flatten_and_hash():
    assert flatten({"a": {"b": 1, "c": [2, 3]}, "d": "x"}) == {"a.b": 1, "a.c.0": 2, "a.c.1": 3, "d": "x"}
    a, b = configs_for("manipulator_cbf", {"k1": ["4", "4.0"]})
    assert config_hash(a) == config_hash(b), "the same configuration written two ways is one run"


@pytest.mark.parametrize("grid, message", [
    ("nonsense=1,2", "nonsense: no such field of manipulator_cbf.Config"),
    ("k1=4,-1", "k1=-1: k1: -1.0 is out of range"),
    ("impulse_ns=abc", "cannot read 'abc' as float"),
    ("k1=", "no values"),
])
def test_a_bad_grid_exits_2_with_one_line_before_any_run(tmp_path, grid, message):
    out = _cli("sweep", "manipulator_cbf", "--grid", grid, "--out", str(tmp_path / "s"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert not list((tmp_path / "s").glob("runs/*")), "no run may start before the whole grid is valid"


def test_local_and_ray_give_the_same_table_and_a_rerun_skips_finished_runs(tmp_path):
    local = engines.sweep("manipulator_cbf", GRID, base=BASE, out=tmp_path / "local", backend="local", workers=2)
    assert [r["status"] for r in local.rows] == ["ok"] * 4
    assert [(r["impulse_ns"], r["k1"]) for r in local.rows] == [(0.5, 4.0), (0.5, 8.0), (1.5, 4.0), (1.5, 8.0)]
    table = (tmp_path / "local" / "table.csv").read_text().splitlines()
    assert len(table) == 5 and "controllers.adaptive.min_h" in table[0]

    ray_table = engines.sweep("manipulator_cbf", GRID, base=BASE, out=tmp_path / "ray", backend="ray", workers=2)
    assert _deterministic(ray_table) == _deterministic(local)

    again = engines.sweep("manipulator_cbf", GRID, base=BASE, out=tmp_path / "local", backend="local", workers=2)
    assert again.skipped == 4 and _deterministic(again) == _deterministic(local)


def test_ray_listens_on_loopback_only():
    from engines.sweeps import ray_environment

    ray_environment()
    import ray

    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        pids = {str(p) for p in [os.getpid(), *_descendants(os.getpid())]}
        mine = [ln for ln in out.splitlines() if any(f"pid={p}," in ln for p in pids)]
        assert mine, "no listening socket of the Ray processes was found"
        for line in mine:
            local = line.split()[3]
            assert local.startswith(("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:", "localhost:")), line
    finally:
        ray.shutdown()




def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    from engines.manipulator_cbf import engine as cbf_engine

    real = cbf_engine.run

    def flaky(config, device="auto"):
        if config.k1 == 8.0:
            raise RuntimeError("simulated failure")
        return real(config, device)

    monkeypatch.setattr(engines.load("manipulator_cbf"), "run", flaky)
    table = engines.sweep("manipulator_cbf", GRID, base=BASE, out=tmp_path / "s", backend="serial")
    status = {(r["impulse_ns"], r["k1"]): (r["status"], r["error"]) for r in table.rows}
    assert status[(0.5, 8.0)] == ("failed", "RuntimeError: simulated failure")
    assert status[(0.5, 4.0)] == ("ok", "")
    assert (tmp_path / "s" / "runs" / table.rows[1]["run"] / "error.txt").read_text().count("simulated failure")


def test_a_sweep_killed_mid_way_loses_no_finished_run_and_completes_on_restart(tmp_path):
    out = tmp_path / "s"
    grid = ["--grid", "impulse_ns=0.25,0.5,0.75,1.0,1.25,1.5"]
    fixed = [a for k, v in BASE.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.Popen([sys.executable, "-m", "engines", "sweep", "manipulator_cbf", *grid, *fixed, "--out", str(out),
                             "--backend", "local", "--workers", "1"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(list(out.glob("runs/*/row.json"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-way
        proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/row.json")}
    assert 2 <= len(finished) < 6, f"{len(finished)} runs had finished when the sweep was killed"
    for name in finished:
        assert json.loads((out / "runs" / name / "row.json").read_text())["status"] == "ok"

    table = engines.sweep("manipulator_cbf", {"impulse_ns": ["0.25", "0.5", "0.75", "1.0", "1.25", "1.5"]}, base=BASE, out=out,
                          backend="serial")
    assert [r["status"] for r in table.rows] == ["ok"] * 6 and table.skipped == len(finished)
    for name, mtime in finished.items():
        assert (out / "runs" / name / "row.json").stat().st_mtime_ns == mtime, "a finished run was redone"


def test_seeds_repeat_each_configuration_and_need_a_seed_field():
    configs = configs_for("manipulator_cbf", {"k1": ["4"]}, seeds=3)
    assert [c.seed for c in configs] == [0, 1, 2]
    with pytest.raises(SweepError, match="seeds"):
        configs_for("manipulator_cbf", {"k1": ["4"]}, seeds=0)


def test_a_worker_killed_mid_run_is_replaced_and_its_run_done_again(tmp_path):
    out = tmp_path / "s"
    fixed = [a for k, v in BASE.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.Popen([sys.executable, "-m", "engines", "sweep", "manipulator_cbf", "--grid", "impulse_ns=0.25,0.5,0.75,1.0",
                             *fixed, "--out", str(out), "--backend", "local", "--workers", "1"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("runs/*/row.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [pid for pid in _descendants(proc.pid) if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert workers, "the pool's worker process was not found"
        os.kill(workers[0], signal.SIGKILL)
        stdout, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0
    rows = [json.loads(p.read_text()) for p in out.glob("runs/*/row.json")]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)


def _descendants(root: int) -> list[int]:
    """Every descendant process of ``root`` (from /proc)."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent_of[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [root]
    while frontier:
        kids = [p for p, pp in parent_of.items() if pp in frontier]
        found += kids
        frontier = kids
    return found
