"""Headless command line for every engine.

    python -m engines list
    python -m engines describe NAME
    python -m engines run NAME --set k=v ... --out DIR [--device cpu|cuda|auto]
    python -m engines bench NAME [--quick] --out DIR
    python -m engines record NAME [--out DIR] [--set k=v ...]   # engines that train: remake the recorded run
    python -m engines sweep NAME --grid field=v1,v2 [--grid ...] [--seeds N] --out DIR [--backend local|ray|serial]
                                 [--address HOST:PORT] [--workers N] [--set k=v ...]

Progress goes to stderr; bad input exits with code 2 and one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from engines import ENGINES, load, threads
from engines.base import Snapshot, jsonable


class _Fail(Exception):
    """A user error: printed as one line, exit code 2."""


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, stream=sys.stderr, width: int = 30):
        self.label, self.stream, self.width = label, stream, width
        self._last = 0.0

    def __call__(self, snap: Snapshot) -> None:
        now = time.monotonic()
        if snap.progress < 1.0 and now - self._last < 0.1:
            return
        self._last = now
        filled = int(round(self.width * min(max(snap.progress, 0.0), 1.0)))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {100 * snap.progress:5.1f}% {snap.message[:60]:<60}")
        if snap.progress >= 1.0:
            self.stream.write("\n")
        self.stream.flush()


def _parse_sets(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        if "=" not in item:
            raise _Fail(f"--set {item}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        pairs[k.strip()] = v
    return pairs


def cmd_list(_args) -> int:
    width = max(len(n) for n in ENGINES)
    for name, text in ENGINES.items():
        print(f"{name:<{width}}  {text}")
    return 0


def cmd_describe(args) -> int:
    engine = _load(args.name)
    print(f"{args.name}: {ENGINES[args.name]}\n")
    for row in engine.Config.describe():
        unit = f" [{row['unit']}]" if row["unit"] else ""
        print(f"  {row['name']} = {row['default']!r}{unit}  ({row['type']}; allowed: {row['allowed']})")
        if row["doc"]:
            print(f"      {row['doc']}")
    print(f"\n  bench: {'yes' if hasattr(engine, 'bench') else 'no'}")
    return 0


def _load(name: str):
    try:
        return load(name)
    except ValueError as err:
        raise _Fail(str(err)) from None


def _prepare(args) -> Path:
    """Check --device and create the --out folder before any work, so bad input costs nothing."""
    from engines.device import resolve

    try:
        resolve(args.device)
    except ValueError as err:
        raise _Fail(str(err)) from None
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _Fail(f"--out {args.out}: cannot create the folder ({err.strerror})") from None
    return out


def cmd_run(args) -> int:
    engine = _load(args.name)
    try:
        config = engine.Config.from_strings(_parse_sets(args.set or []))
    except ValueError as err:
        raise _Fail(str(err)) from None
    _prepare(args)
    bar = ProgressBar(args.name)
    last = None
    try:
        for snap in engine.stream(config, device=args.device):
            bar(snap)
            last = snap
    except (ValueError, OSError) as err:  # bad input found while running (a malformed file, say)
        sys.stderr.write("\n")
        raise _Fail(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    except MemoryError:
        sys.stderr.write("\n")
        raise _Fail(f"{args.name}: the job ran out of memory; lower its size fields (python -m engines describe {args.name})") from None
    if last is None or last.result is None or last.progress != 1.0:
        raise RuntimeError("engine stream ended without a final result")
    out = last.result.save(args.out)
    print(json.dumps({"out": str(out), "summary": jsonable(last.result.summary())}, indent=2)[:4000])
    return 0


def cmd_sweep(args) -> int:
    from engines import sweeps

    _load(args.name)
    _prepare(args)
    try:
        grid = sweeps.parse_grid_args(args.grid or [])
        if not grid:
            raise sweeps.SweepError("--grid: give at least one FIELD=V1,V2,...")
        snaps = sweeps.stream(args.name, grid, out=args.out, seeds=args.seeds, base=_parse_sets(args.set or []),
                              backend=args.backend, address=args.address, workers=args.workers, device=args.device)
        bar = ProgressBar(f"sweep {args.name}")
        last = None
        for snap in snaps:  # the grid is validated before the first snapshot, so bad input costs no run
            bar(snap)
            last = snap
    except sweeps.SweepError as err:
        raise _Fail(str(err)) from None
    result = last.result
    failed = [r for r in result.rows if r.get("status") == "failed"]
    print(json.dumps({"out": args.out, "table": str(Path(args.out) / "table.csv"), **jsonable(result.details()),
                      "failed": [{"run": r["run"], "error": r.get("error")} for r in failed][:20]}, indent=2))
    return 0


def cmd_bench(args) -> int:
    if args.name == "sweep":  # the sweep machinery's own bench (serial against Ray)
        from engines import sweeps

        out = _prepare(args)
        report = sweeps.bench(quick=args.quick, device=args.device, progress=ProgressBar("bench sweep"))
        report.setdefault("threads", threads.describe())
        text = json.dumps(jsonable(report), indent=2)
        (out / "bench.json").write_text(text + "\n")
        print(text[:4000])
        return 0
    engine = _load(args.name)
    if not hasattr(engine, "bench"):
        raise _Fail(f"bench: engine {args.name!r} has no benchmark")
    out = _prepare(args)
    report = engine.bench(quick=args.quick, device=args.device, progress=ProgressBar(f"bench {args.name}"))
    report.setdefault("threads", threads.describe())  # every bench says which thread policy it ran under
    text = json.dumps(jsonable(report), indent=2)
    (out / "bench.json").write_text(text + "\n")
    print(text[:4000])
    return 0


def cmd_record(args) -> int:
    engine = _load(args.name)
    if not hasattr(engine, "record"):
        raise _Fail(f"record: engine {args.name!r} ships no recorded run")
    from engines.recorded import resource_dir

    try:
        config = engine.Config.from_strings(_parse_sets(args.set or []))
    except ValueError as err:
        raise _Fail(str(err)) from None
    args.out = args.out or str(resource_dir(args.name))
    out = _prepare(args)
    record = engine.record(out, config, device=args.device, progress=ProgressBar(f"record {args.name}"))
    print(json.dumps(jsonable(record), indent=2)[:4000])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines", description="Paper Workbench engines, headless.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the engines")
    p = sub.add_parser("describe", help="fields, defaults and allowed values of an engine's Config")
    p.add_argument("name")
    p = sub.add_parser("run", help="run an engine and write DIR/result.json plus figures")
    p.add_argument("name")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a Config field (repeatable)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p = sub.add_parser("bench", help="measure the method against its baseline; writes DIR/bench.json")
    p.add_argument("name")
    p.add_argument("--quick", action="store_true", help="a short run (seconds)")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="auto")
    p = sub.add_parser("record", help="remake an engine's recorded run (resources/NAME, with provenance.json)")
    p.add_argument("name")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a Config field (repeatable)")
    p.add_argument("--out", help="output folder (default: resources/NAME)")
    p.add_argument("--device", default="auto")
    p = sub.add_parser("sweep", help="run an engine over the cartesian product of Config values; DIR/table.csv")
    p.add_argument("name")
    p.add_argument("--grid", action="append", metavar="FIELD=V1,V2,...", help="a swept field and its values (repeatable)")
    p.add_argument("--seeds", type=int, help="repeat every configuration with seeds seed, seed+1, ..., seed+N-1")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="a fixed Config field for every run (repeatable)")
    p.add_argument("--out", required=True, help="output folder (runs/<hash>/ per run, table.csv); a rerun resumes it")
    p.add_argument("--backend", default="local", choices=["local", "ray", "serial"], help="process pool, Ray, or this process")
    p.add_argument("--address", help="with --backend ray: a running cluster's HOST:PORT (default: start a local one)")
    p.add_argument("--workers", type=int, help="worker processes (local) or CPUs (a local Ray cluster); default: the cores")
    p.add_argument("--device", default="cpu", help="device of every run: cpu, cuda or auto")
    args = parser.parse_args(argv)
    try:
        commands = {"list": cmd_list, "describe": cmd_describe, "run": cmd_run, "bench": cmd_bench, "record": cmd_record,
                    "sweep": cmd_sweep}
        return commands[args.cmd](args)
    except _Fail as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
