"""bench: the simulator's speed per policy side by side on one trace, and the long-context ratios, in one process."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..base import Snapshot
from . import traces
from .config import Config
from .engine import make_params, make_trace, run
from .result import PAPER, Result
from .simulator import POLICIES, Simulator


def _ratios_and_stats(res: Result, keys: tuple[str, ...]) -> dict:
    """A bench entry: elastic-over-static ratios and the chosen stats of every policy."""
    return dict(ratios=res.ratios(), policies={p: {k: r.stats[k] for k in keys} for p, r in res.runs.items()})


def bench(quick: bool = False, device: str = "auto", progress: Callable[[Snapshot], None] | None = None) -> dict:
    """Simulator speed on a 10,000-request chat trace (1,000 quick), per policy side by side; plus the
    long-context ratios (the paper's 128K scenario) and, when ../shared/data is present, the real Azure trace."""
    report: dict = {}
    n = 1000 if quick else 10_000
    cfg = Config(workload="chat", n_requests=n, rate_rps=20.0, input_median=1024, output_median=256, export_snapshot=False)
    tr = make_trace(cfg)
    params = make_params(cfg)
    speed = {}
    for i, pol in enumerate(POLICIES):
        t0 = time.perf_counter()
        sim = Simulator(pol, params, tr)
        for frac in sim.run():
            if progress:
                progress(Snapshot(0.6 * (i + frac) / 3, f"speed: {pol}"))
        wall = time.perf_counter() - t0
        res = sim.result()
        speed[pol] = dict(
            wall_s=wall,
            iterations=res.stats["iterations"],
            iterations_per_s=res.stats["iterations"] / wall,
            requests_per_s=n / wall,
            decode_tokens_per_s_simulated=res.stats["decode_tokens_per_s"],
        )
    report["speed"] = dict(requests=n, **speed)
    lc = run(Config(workload="long_context", n_requests=8 if quick else 16, export_snapshot=False))
    report["long_context"] = _ratios_and_stats(lc, ("decode_tokens_per_s", "max_batch", "max_admitted", "ttft_p50_s"))
    if progress:
        progress(Snapshot(0.8, "long context done"))
    if not quick and traces.azure_trace_path().exists():
        az = run(Config(workload="azure", max_num_seqs=256, export_snapshot=False))
        report["azure"] = _ratios_and_stats(az, ("decode_tokens_per_s", "ttft_p50_s", "ttft_p99_s", "max_batch"))
    if progress:
        progress(Snapshot(1.0, "done"))
    report["paper"] = {k: PAPER[k].to_dict() for k in ("decode_throughput_x", "batch_x")}
    report["note"] = (
        "speed: simulated iterations per wall second on this machine; ratios: elastic over static on the same trace and cost model"
    )
    return report
