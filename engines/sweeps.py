"""Parameter sweeps over any engine: the cartesian product of Config values, each an ordinary ``run``.

    python -m engines sweep NAME --grid field=v1,v2,... [--grid ...] [--seeds N] --out DIR
                                 [--backend local|ray] [--address HOST:PORT] [--workers N]

    import engines
    table = engines.sweep("spin_alignment", {"energy": [7.7, 200], "rescattering": [True, False]}, out="out/scan")

Every configuration is validated before any run starts (an unknown field or a value the Config refuses is one
ValueError line). Each run gets its own folder ``DIR/runs/<hash>/`` (``result.save``'s files plus ``row.json``),
keyed by a hash of its configuration: a finished run is skipped when the sweep is started again, so a sweep that was
killed, or whose worker died, completes on restart without redoing finished work. A run that raises is recorded with
its error (``status = failed``) and the sweep goes on (a failed run is tried again on restart). ``DIR/table.csv``
(and ``table.parquet`` when pyarrow is installed) holds one row per run: the swept and the other Config fields,
then the summary figures flattened to ``a.b.c`` keys.

Backends: ``serial`` runs in this process; ``local`` a process pool; ``ray`` submits each run as a Ray task with its
resource needs (``num_cpus``, and a GPU fraction for a CUDA device) to a running cluster (``address``) or to a local
one it starts on 127.0.0.1 and stops again. No scheduler of our own: the pool or Ray decides where runs go.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from engines.base import ConfigBase, Figure, ResultBase, Snapshot, consume, jsonable

BACKENDS = ("serial", "local", "ray")
MAX_RUNS = 10_000


class SweepError(ValueError):
    """A grid that cannot be swept (unknown field, a value the Config refuses, too many runs)."""


def config_hash(config: ConfigBase) -> str:
    """12 hex digits of SHA-1 over the configuration's fields as sorted JSON: the run's folder name."""
    text = json.dumps(jsonable(config.to_dict()), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` → ``{"a.b": 1, "c.0": 1, "c.1": 2}`` (lists longer than 16 are dropped)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (list, tuple)):
        if len(obj) <= 16:
            for i, v in enumerate(obj):
                out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = obj
    return out


def parse_grid_args(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise SweepError(f"--grid {item}: expected FIELD=V1,V2,...")
        name, values = item.split("=", 1)
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise SweepError(f"--grid {item}: no values")
        grid.setdefault(name.strip(), []).extend(vals)
    return grid


def configs_for(name: str, grid: dict[str, list], seeds: int | None = None, base: dict | None = None) -> list[ConfigBase]:
    """Every configuration of the grid (cartesian product, in grid order), validated; ``seeds`` repeats each with seed+i."""
    from engines import load

    engine = load(name)
    cls = engine.Config
    names = [f.name for f in dataclasses.fields(cls)]
    for k in grid:
        if k not in names:
            raise SweepError(f"{k}: no such field of {name}.Config (allowed: {', '.join(names)})")
    if seeds is not None:
        if "seed" not in names:
            raise SweepError(f"--seeds: {name}.Config has no seed field")
        if not 1 <= seeds <= 1000:
            raise SweepError(f"--seeds: {seeds} is out of range [1, 1000]")
    try:
        base_cfg = cls.from_strings({k: str(v) for k, v in (base or {}).items()}) if base else cls()
    except ValueError as err:
        raise SweepError(str(err)) from None
    axes = list(grid.items())
    total = 1
    for _, values in axes:
        total *= max(1, len(values))
    total *= seeds or 1
    if total > MAX_RUNS:
        raise SweepError(f"grid: {total:,} runs is more than the {MAX_RUNS:,} one sweep accepts")
    configs = []
    for combo in itertools.product(*[values for _, values in axes]):
        changes = {k: v for (k, _), v in zip(axes, combo)}
        texts = {k: v for k, v in changes.items() if isinstance(v, str)}
        direct = {k: v for k, v in changes.items() if not isinstance(v, str)}
        try:
            cfg = cls.from_strings(texts, base=base_cfg.replace(**direct) if direct else base_cfg)
        except (ValueError, TypeError) as err:
            raise SweepError(f"grid {', '.join(f'{k}={v}' for k, v in changes.items())}: {err}") from None
        for i in range(seeds or 1):
            configs.append(cfg.replace(seed=cfg.seed + i) if seeds else cfg)
    return configs


@dataclass
class Result(ResultBase):
    """A sweep: one row per run (Config fields, status, error, flattened summary figures), in grid order."""

    PAPER: ClassVar[dict[str, Figure]] = {}
    engine: str
    swept: list[str]
    rows: list[dict] = field(default_factory=list)
    out: str = ""
    total: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    config: Any = None  # the sweep has no Config of its own; the runs' Configs are in the rows

    def headline(self) -> dict[str, Figure]:
        failed = sum(r.get("status") == "failed" for r in self.rows)
        return {"runs": Figure(float(len(self.rows)), "", f"runs of {self.engine} done (of {self.total})"),
                "failed": Figure(float(failed), "", "runs that raised (recorded with their error)")}

    def details(self) -> dict:
        return {"engine": self.engine, "swept": self.swept, "runs": len(self.rows), "total": self.total,
                "skipped_as_finished": self.skipped, "out": self.out, "wall_s": self.wall_s}

    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def column(self, name: str) -> list:
        return [r.get(name) for r in self.rows]

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns())

    def write_table(self, out: str | Path) -> Path:
        """``table.csv`` (and ``table.parquet`` when pyarrow is importable) in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cols = self.columns()
        tmp = out / "table.csv.tmp"
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in self.rows:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
        tmp.replace(out / "table.csv")
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            return out / "table.csv"
        table = pa.table({c: pa.array([_parquet_value(r.get(c)) for r in self.rows]) for c in cols})
        pq.write_table(table, out / "table.parquet")
        return out / "table.csv"

    def save(self, out_dir: str | Path) -> Path:
        out = super().save(out_dir)
        self.write_table(out)
        return out

    def frozen(self):
        twin = dataclasses.replace(self)
        twin.rows = [dict(r) for r in self.rows]
        twin.swept = list(self.swept)
        return twin


def _parquet_value(v):
    return v if isinstance(v, (int, float, bool)) or v is None else str(v)


# ---- one run ----------------------------------------------------------------------------------------
def run_one(name: str, config_dict: dict, run_dir: str, device: str = "cpu", threads: int = 0) -> dict:
    """Run one configuration, save its result in ``run_dir`` and return its table row (written as ``row.json`` last)."""
    from engines import load

    if threads > 0:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    engine = load(name)
    config = engine.Config(**config_dict)
    row: dict[str, Any] = {"run": Path(run_dir).name, **jsonable(config.to_dict())}
    t0 = time.perf_counter()
    try:
        result = engine.run(config, device=device)
        result.save(run_dir)
        row.update(status="ok", error="", wall_s=time.perf_counter() - t0)
        row.update({k: v for k, v in flatten(jsonable(result.summary())).items() if k not in row})
    except Exception as err:  # recorded, and the sweep goes on
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / "error.txt").write_text(traceback.format_exc())
        row.update(status="failed", error=f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                   wall_s=time.perf_counter() - t0)
    tmp = Path(run_dir) / "row.json.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(jsonable(row)) + "\n")
    tmp.replace(Path(run_dir) / "row.json")  # atomic: a run is finished exactly when row.json exists
    return row


def _keep_row(run_dir: Path, row: dict) -> None:
    """The row also on the driver's disk (a remote Ray worker wrote its own copy on its node), so a restart skips it."""
    if (run_dir / "row.json").exists():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "row.json.tmp"
    tmp.write_text(json.dumps(jsonable(row)) + "\n")
    tmp.replace(run_dir / "row.json")


def _finished_row(run_dir: Path) -> dict | None:
    try:
        row = json.loads((run_dir / "row.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return row if row.get("status") == "ok" else None


# ---- backends ---------------------------------------------------------------------------------------
def _serial(tasks, device, workers, address):
    for key, args in tasks:
        yield key, run_one(*args, device=device)


def _local(tasks, device, workers, address):
    """A process pool (spawned workers: torch and threads do not survive fork); a dead worker's runs are retried once."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    workers = workers or max(1, (os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    pending = dict(tasks)
    attempts = dict.fromkeys(pending, 0)
    while pending:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
        futures = {pool.submit(run_one, *args, device=device, threads=threads): key for key, args in pending.items()}
        broken = False
        try:
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    key = futures[fut]
                    try:
                        row = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    pending.pop(key, None)
                    yield key, row
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)
        if broken:
            for key in list(pending):
                attempts[key] += 1
                if attempts[key] > 1:  # a run that kills its worker twice is recorded as failed
                    name, cfg, run_dir = pending.pop(key)
                    yield key, {"run": Path(run_dir).name, **cfg, "status": "failed", "error": "worker process died twice"}


def ray_environment() -> None:
    """Keep Ray on loopback and quiet: set before ``import ray`` (Ray 2.60 binds the interface address otherwise)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _ray(tasks, device, workers, address):
    ray_environment()
    try:
        import ray
    except ImportError:
        raise SweepError("backend ray: the ray package is not installed (pip install 'paper-workbench[ray]')") from None
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or (os.cpu_count() or 1), include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False)
        started = True
    try:
        gpu = 0.25 if str(device).startswith("cuda") else 0
        remote = ray.remote(num_cpus=1, num_gpus=gpu, max_retries=1)(run_one)
        refs = {remote.remote(*args, device=device, threads=1): key for key, args in tasks}
        remaining = list(refs)
        try:
            while remaining:
                done, remaining = ray.wait(remaining, num_returns=1)
                for ref in done:
                    key = refs[ref]
                    try:
                        yield key, ray.get(ref)
                    except ray.exceptions.RayError as err:
                        name, cfg, run_dir = dict(tasks)[key]
                        yield key, {"run": Path(run_dir).name, **cfg, "status": "failed", "error": f"ray: {str(err).splitlines()[0]}"}
        finally:
            for ref in remaining:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


_BACKEND: dict[str, Callable] = {"serial": _serial, "local": _local, "ray": _ray}


# ---- the sweep --------------------------------------------------------------------------------------
def stream(name: str, grid: dict[str, list], *, out: str | Path, seeds: int | None = None, base: dict | None = None,
           backend: str = "local", address: str | None = None, workers: int | None = None,
           device: str = "cpu") -> Iterator[Snapshot[Result]]:
    """The sweep as a stream: a snapshot per finished run (a growing table); closing it cancels the runs not started."""
    if backend not in BACKENDS:
        raise SweepError(f"backend: {backend!r} (allowed: {', '.join(BACKENDS)})")
    if workers is not None and not 1 <= workers <= 256:
        raise SweepError(f"workers: {workers} is out of range [1, 256]")
    configs = configs_for(name, grid, seeds, base)
    out = Path(out)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SweepError(f"--out {out}: cannot create the folder ({err.strerror})") from None
    t0 = time.perf_counter()
    keys = [config_hash(c) for c in configs]
    order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    rows: dict[str, dict] = {}
    tasks = []
    for key, cfg in zip(keys, configs):
        if key in rows or any(k == key for k, _ in tasks):
            continue
        finished = _finished_row(out / "runs" / key)
        if finished is not None:
            rows[key] = finished
        else:
            tasks.append((key, (name, jsonable(cfg.to_dict()), str(out / "runs" / key))))
    swept = list(grid) + (["seed"] if seeds else [])
    result = Result(engine=name, swept=swept, out=str(out), total=len(order), skipped=len(rows))

    def snapshot(message: str) -> Snapshot[Result]:
        result.rows = [rows[k] for k in sorted(rows, key=order.__getitem__)]
        result.wall_s = time.perf_counter() - t0
        return Snapshot(len(rows) / max(1, len(order)), message, result.frozen(), changed=frozenset({"rows"}))

    if len(rows) < len(order):
        yield snapshot(f"{len(rows)} of {len(order)} runs already finished; {len(tasks)} to run on {backend}")
        written = time.monotonic()
        for key, row in _BACKEND[backend](tasks, device, workers, address):
            rows[key] = row
            _keep_row(out / "runs" / key, row)
            if len(rows) == len(order):
                break
            if time.monotonic() - written > 5.0:  # the partial table, for whoever looks while it runs (rows are the record)
                result.rows = [rows[k] for k in sorted(rows, key=order.__getitem__)]
                result.write_table(out)
                written = time.monotonic()
            yield snapshot(f"run {len(rows)} of {len(order)}: {row.get('status')}")
    result.rows = [rows[k] for k in sorted(rows, key=order.__getitem__)]
    result.wall_s = time.perf_counter() - t0
    result.write_table(out)
    yield Snapshot(1.0, f"{len(rows)} runs ({result.skipped} finished earlier)", result.frozen(), changed=frozenset({"rows"}))


def sweep(name: str, grid: dict[str, list], *, out: str | Path, seeds: int | None = None, base: dict | None = None,
          backend: str = "local", address: str | None = None, workers: int | None = None, device: str = "cpu",
          progress: Callable[[Snapshot], None] | None = None) -> Result:
    """Run the sweep to its end and return its table (``result.rows``, ``result.to_pandas()``)."""
    return consume(stream(name, grid, out=out, seeds=seeds, base=base, backend=backend, address=address, workers=workers,
                          device=device), progress)


# ---- bench ------------------------------------------------------------------------------------------
def bench(quick: bool = False, device: str = "cpu", progress: Callable[[Snapshot], None] | None = None) -> dict:
    """A ρ00 scan (8 energies × seeds, 64 runs; quick: 8) run serially in this process and on a local 2-worker Ray cluster.

    Reports both wall times, their ratio, and Ray's overhead per task: (wall × workers − Σ the runs' own wall time) / runs,
    the time a task spends outside its engine run (submission, scheduling, worker start, result transfer).
    """
    import shutil
    import tempfile

    from engines.spin_alignment import ENERGIES

    seeds = 1 if quick else 8
    grid = {"energy": list(ENERGIES)}
    base = {"n_resonances": 2000, "cpu_threads": 1}
    report: dict[str, Any] = {"what": f"spin_alignment scan: {len(ENERGIES)} energies × {seeds} seeds, n_resonances=2000",
                              "runs": len(ENERGIES) * seeds}
    root = Path(tempfile.mkdtemp(prefix="sweep_bench_"))
    try:
        for label, backend, workers in (("serial", "serial", 1), ("ray_2_workers", "ray", 2)):
            t0 = time.perf_counter()
            res = sweep("spin_alignment", grid, seeds=seeds, base=base, out=root / label, backend=backend, workers=workers,
                        device=device, progress=progress)
            wall = time.perf_counter() - t0
            own = sum(float(r.get("wall_s") or 0.0) for r in res.rows)
            report[label] = {"wall_s": wall, "runs_wall_s": own, "failed": sum(r.get("status") != "ok" for r in res.rows),
                             "overhead_per_task_s": max(0.0, (wall * workers - own) / max(1, len(res.rows)))}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report["speedup_ray_over_serial"] = report["serial"]["wall_s"] / report["ray_2_workers"]["wall_s"]
    return report
