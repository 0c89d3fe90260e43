"""stream / run: every chosen policy on one trace, then the sensitivity map if asked.

The stream's snapshots: progress of each policy's simulation (no result yet); then the Result with every run
(``changed`` empty: everything is new); while the sensitivity map is computed, one fresh Result per cell with
the map so far (``changed == {"sensitivity"}``: the runs are the same objects as before); the last snapshot
(progress 1.0) names nothing, so a receiver that skipped snapshots redraws everything once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ..base import Snapshot, consume
from ..device import resolve
from . import sensitivity as sens
from . import traces
from .config import Config
from .models import GIB, GPUS, MODELS, Roofline
from .params import SimParams
from .result import Result
from .simulator import PolicyRun, Simulator
from .snapshot import ElasticRecorder, static_snapshot


def make_params(cfg: Config, model: str | None = None, memory_gb: float | None = None, log_ops: bool = False) -> SimParams:
    m = MODELS[model or cfg.model]
    g = GPUS[cfg.gpu]
    changes = {}
    if memory_gb is not None:
        changes["memory_bytes"] = int(memory_gb * 1e9)
    elif cfg.gpu_memory_gib is not None:
        changes["memory_bytes"] = int(cfg.gpu_memory_gib * GIB)
    if cfg.map_us is not None:
        changes.update(map_us=cfg.map_us, unmap_us=cfg.map_us * g.unmap_us / g.map_us)
    if cfg.pcie_gbps is not None:
        changes["pcie_bytes_per_s"] = cfg.pcie_gbps * 1e9
    if changes:
        g = dataclasses.replace(g, **changes)
    return SimParams(
        model=m,
        gpu=g,
        roofline=Roofline(m, g, cfg.mfu, cfg.mbu, cfg.step_overhead_ms * 1e-3),
        util=cfg.gpu_memory_utilization,
        overhead_bytes=int(cfg.overhead_gib * GIB),
        workspace_bytes=int(cfg.workspace_mib * 2**20),
        max_num_seqs=cfg.max_num_seqs,
        budget_tokens=cfg.chunk_tokens,
        chunk_tokens=cfg.chunk_tokens,
        block_tokens=cfg.block_tokens,
        watermark=cfg.watermark,
        cpu_buffer_bytes=int(cfg.cpu_buffer_gib * GIB),
        ttft_slo_s=cfg.ttft_slo_s,
        ttft_slo_scale=cfg.ttft_slo_scale,
        tpot_slo_s=cfg.tpot_slo_s,
        deflate=cfg.deflate,
        n_frames=cfg.n_frames,
        log_ops=log_ops,
    )


def make_trace(cfg: Config) -> traces.Trace:
    if cfg.trace:
        return traces.load_cached(cfg.trace, cfg.trace_format).scaled(cfg.trace_rate_rps, cfg.trace_limit)
    w = cfg.workload
    if w == "azure":
        path = traces.azure_trace_path()
        if not path.exists():
            raise ValueError(f"workload: azure needs {path} (allowed: another workload, or trace=PATH)")
        return traces.load_cached(path, "azure").scaled(cfg.trace_rate_rps, cfg.trace_limit)
    if w == "long_context":
        return traces.long_context(cfg.seed, cfg.n_requests, cfg.long_input_tokens)
    if w == "long_context_mix":
        return traces.long_context_mix(cfg.seed, cfg.n_requests, cfg.rate_rps, cfg.burstiness)
    burst = cfg.burstiness if w == "chat" else max(cfg.burstiness, 3.0)
    return traces.synthetic(cfg.seed, cfg.n_requests, cfg.rate_rps, burst, cfg.input_median, cfg.output_median)


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot]:
    """Simulate every chosen policy on the same trace (and the sensitivity map if asked)."""
    cfg = config or Config()
    if (device or "auto").strip().lower() not in ("auto", "cpu"):
        resolve(device)  # fail early on a bad request; the simulator itself is numpy (importing torch costs seconds)
    try:
        tr = make_trace(cfg)  # validated with the Config; a file changed since is parsed again here
    except traces.TraceError as err:
        raise traces.TraceError(f"trace: {err}") from None
    yield Snapshot(0.01, f"trace: {len(tr)} requests, {tr.rate:.3g} req/s")
    pols = cfg.policies
    n_sens = {"off": 0, "model": 1, "all_models": len(MODELS)}[cfg.sensitivity]
    share = 1.0 if not n_sens else 0.5
    runs: dict[str, PolicyRun] = {}
    snaps: dict = {}
    params = make_params(cfg, log_ops=cfg.export_snapshot)
    ttft_target = None
    for i, pol in enumerate(pols):
        sim = Simulator(pol, params, tr)
        ttft_target = sim.ttft_target
        # elastic: the pool's operation log becomes snapshot entries as the run goes (the log is emptied each time, so
        # its memory stays bounded by the last snapshot_max_entries); static: the allocator sees only start-up tensors
        mem = sim.memory
        recorder = None
        if cfg.export_snapshot and pol == "elastic":
            recorder = ElasticRecorder(mem.cap_chunks, params.chunk_bytes, cfg.snapshot_max_entries)
        log = mem.pool.log
        if recorder is None:
            mem.pool.log = None
        for frac in sim.run():
            if recorder is not None:
                recorder.feed(log)
                log.clear()
            yield Snapshot(0.01 + share * 0.98 * (i + frac) / len(pols), f"{pol}: {frac:.0%} of requests done")
        if recorder is not None:
            recorder.feed(log)
            log.clear()
            snaps[pol] = recorder.snapshot(mem.pool)
        elif cfg.export_snapshot:
            snaps[pol] = static_snapshot(params.model.weight_bytes, params.overhead_bytes, mem.reserve_bytes, mem.n_blocks * mem.page_bytes)
        runs[pol] = sim.result()
    m = params.model
    memory = dict(
        weights_gib=m.weight_bytes / GIB,
        kv_bytes_per_token=m.kv_bytes_per_token,
        activation_bytes_per_token=m.activation_bytes_per_token,
        activation_to_kv=m.activation_to_kv,
        gpu_memory_gib=params.gpu.memory_bytes / GIB,
        cap_gib=params.util * params.gpu.memory_bytes / GIB,
        **{f"{p}_kv_capacity_tokens": r.stats["kv_capacity_tokens"] for p, r in runs.items()},
        **{f"{p}_reserve_gib": r.stats["static_reserve_gib"] for p, r in runs.items() if p != "elastic"},
    )
    info = dict(
        workload="trace" if cfg.trace else cfg.workload,
        source=tr.source,
        requests=len(tr),
        rate_rps=tr.rate,
        skipped=tr.skipped,
        mean_input=float(tr.input_tokens.mean()),
        mean_output=float(tr.output_tokens.mean()),
        max_input=int(tr.input_tokens.max()),
    )
    result = Result(cfg, runs, info, memory, tr.arrival_s, tr.input_tokens, tr.output_tokens, ttft_target, None, snaps)
    if n_sens:
        yield Snapshot(0.5, "sensitivity map", result)
        models = (cfg.model,) if n_sens == 1 else tuple(MODELS)
        for frac, partial in sens.sweep(lambda mod, mem: make_params(cfg, mod, mem), models, cfg.seed, cfg.sensitivity_max_requests):
            result = dataclasses.replace(result, sensitivity=partial)  # a fresh Result: the one yielded before stays as it was
            if frac < 1.0:
                yield Snapshot(0.5 + 0.49 * frac, f"sensitivity map: {frac:.0%}", result, frozenset({"sensitivity"}))
    yield Snapshot(1.0, "done", result)


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))
