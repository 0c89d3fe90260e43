"""A snapshot's result belongs to the GUI once yielded: the worker never writes to it afterwards.

Each engine's stream runs in the job runner's worker thread, as the panels run it, while the GUI thread records a
fingerprint of every snapshot it is handed (every array's bytes, every list's items, recursively). When the job has
finished, every received result must still have its fingerprint: nothing the panel drew was changed under it, so
parallel arrays always have the lengths they had when drawn.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from app.jobs import JobRunner
from engines import ENGINES, load
from engines.base import Snapshot

# a job per engine that yields several growing snapshots in a few seconds
SMALL = {
    "manipulator_cbf": dict(duration=1.0, sweep_points=3, backend_samples=10, mc_scenarios=16),
    "spin_alignment": dict(n_resonances=6_000, scan="energy", scan_resonances=1_500),
    "splatting": dict(width=96, height=64, frames=3),
    "memory_pool": dict(workload="long_context", n_requests=4, sensitivity="model", n_frames=20, export_snapshot=False),
    "long_context": dict(source="recorded"),
    "acereason": dict(recorded=True),
    "cot_pass_at_k": dict(checkpoints="sft,math", prompts=4, samples=4, bootstrap=50),
    "video_dit": dict(steps=6, n_videos=1, population=2, generations=1, search_videos=1, front_budgets="0.5"),
    "long_cot_steering": dict(prompts=4, samples=1, max_new_tokens=24, contrast=4),
    "sft_temperature": dict(checkpoints="sft", temperatures="0.6,1.0", advisor_prompts=4, advisor_samples=2, advisor_max_new_tokens=8),
}


def fingerprint(obj, depth: int = 0) -> str:
    """A digest of everything a panel could read from ``obj``: arrays by bytes, containers item by item."""
    h = hashlib.sha1()

    def feed(o, d):
        if d > 6:
            h.update(b"<deep>")
        elif isinstance(o, np.ndarray):
            h.update(f"{o.shape}{o.dtype}".encode())
            h.update(np.ascontiguousarray(o).tobytes())
        elif isinstance(o, dict):
            h.update(f"dict{len(o)}".encode())
            for k, v in o.items():
                h.update(repr(k).encode())
                feed(v, d + 1)
        elif isinstance(o, (list, tuple)):
            h.update(f"seq{len(o)}".encode())
            for v in o:
                feed(v, d + 1)
        elif dataclasses.is_dataclass(o) and not isinstance(o, type):
            if type(o).__dataclass_params__.frozen:
                h.update(repr(o).encode())
            else:
                for f in dataclasses.fields(o):
                    h.update(f.name.encode())
                    feed(getattr(o, f.name), d + 1)
        elif hasattr(o, "__dict__") and not callable(o):
            for k, v in sorted(vars(o).items()):
                h.update(k.encode())
                feed(v, d + 1)
        else:
            h.update(repr(o).encode())

    feed(obj, depth)
    return h.hexdigest()


def test_every_engine_has_a_small_streaming_job_here():
    assert set(SMALL) == set(ENGINES), "add a small job for the new engine to SMALL"


@pytest.mark.parametrize("name", list(ENGINES))
def test_no_result_the_gui_received_is_written_afterwards(qtbot, name):
    engine = load(name)
    config = engine.Config(**SMALL[name])
    seen: list[tuple[object, str, float]] = []

    def on_snapshot(snap: Snapshot) -> None:  # the GUI thread, as a panel's show_snapshot
        if snap.result is not None:
            seen.append((snap.result, fingerprint(snap.result), snap.progress))

    runner = JobRunner()
    job = runner.start(f"snapshots {name}", lambda: engine.stream(config, device="cpu"))
    job.snapshot.connect(on_snapshot)
    with qtbot.waitSignal(job.finished, timeout=300_000):
        pass
    assert seen and seen[-1][2] == 1.0
    changed = [p for r, fp, p in seen if fingerprint(r) != fp]
    assert not changed, f"{name}: results handed to the GUI at progress {changed} were written afterwards by the worker"

    # the final result has the contract's shape: its Config, the one summary shape, a repr that prints the headline
    final = seen[-1][0]
    assert isinstance(final.config, engine.Config)
    summary = final.summary()
    for part in ("headline", "paper"):
        assert summary[part], f"{name}: summary()[{part!r}] is empty"
        for key, fig in summary[part].items():
            assert set(fig) >= {"value", "unit", "what"} and fig["what"], f"{name}: summary()[{part!r}][{key!r}] = {fig}"
    text = repr(final)
    assert all(str(f) in text for f in final.headline().values())
