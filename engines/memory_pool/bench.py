"""bench: the simulator's speed per policy side by side on one trace, and the long-context ratios, in one process.

Speed is measured in rounds: each round runs every policy once on the same trace (the order reversed every other
round, so a neighbour's load drifting over the rounds falls on both sides), timing wall and process CPU time;
each policy's figure is its median over the rounds, and the elastic/static ratios are the medians of the rounds'
paired ratios. CPU time is the steadier of the two on a shared machine (a busy neighbour stretches wall time).
"""

from __future__ import annotations

import statistics
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


def speed(n_requests: int = 10_000, rounds: int = 3, progress: Callable[[Snapshot], None] | None = None, share: float = 1.0) -> dict:
    """Simulated iterations per second of each policy on an ``n_requests`` chat trace, in paired rounds (module docstring)."""
    cfg = Config(workload="chat", n_requests=n_requests, rate_rps=20.0, input_median=1024, output_median=256, export_snapshot=False)
    tr = make_trace(cfg)
    params = make_params(cfg)
    walls: dict[str, list[float]] = {p: [] for p in POLICIES}
    cpus: dict[str, list[float]] = {p: [] for p in POLICIES}
    stats: dict[str, dict] = {}
    done = 0
    for i in range(rounds):
        for pol in POLICIES if i % 2 == 0 else POLICIES[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            sim = Simulator(pol, params, tr)
            for frac in sim.run():
                if progress:
                    progress(Snapshot(share * (done + frac) / (rounds * len(POLICIES)), f"speed: {pol}, round {i + 1} of {rounds}"))
            walls[pol].append(time.perf_counter() - t0)
            cpus[pol].append(time.process_time() - c0)
            stats[pol] = sim.result().stats
            done += 1
    out: dict = dict(requests=n_requests, rounds=rounds)
    for pol in POLICIES:
        it = stats[pol]["iterations"]
        wall, cpu = statistics.median(walls[pol]), statistics.median(cpus[pol])
        out[pol] = dict(
            wall_s=wall,
            cpu_s=cpu,
            iterations=it,
            iterations_per_s=it / wall,
            iterations_per_cpu_s=it / cpu,
            requests_per_s=n_requests / wall,
            decode_tokens_per_s_simulated=stats[pol]["decode_tokens_per_s"],
        )

    def paired(base: str, times: dict[str, list[float]]) -> float:
        """Median over the rounds of elastic's iterations per second over the base's, the same round."""
        e, b = stats["elastic"]["iterations"], stats[base]["iterations"]
        return statistics.median((e / te) / (b / tb) for te, tb in zip(times["elastic"], times[base]))

    out["ratios"] = {
        f"elastic_vs_{base}": dict(iterations_per_s=paired(base, walls), iterations_per_cpu_s=paired(base, cpus))
        for base in ("static_unchunked", "static_chunked")
    }
    return out


def bench(quick: bool = False, device: str = "auto", progress: Callable[[Snapshot], None] | None = None) -> dict:
    """Simulator speed on a 10,000-request chat trace (1,000 quick), per policy side by side in paired rounds; plus the
    long-context ratios (the paper's 128K scenario) and, when ../shared/data is present, the real Azure trace."""
    report: dict = {}
    report["speed"] = speed(1000 if quick else 10_000, 1 if quick else 3, progress, 0.6)
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
        "speed: simulated iterations per second of wall and of process CPU time on this machine (medians of paired rounds; "
        "speed.ratios: elastic over static, the median of the rounds' paired ratios); ratios elsewhere: elastic over static "
        "on the same trace and cost model"
    )
    return report
