"""What a run keeps as it goes, and what it adds up to: the timeline, the memory events, the chunk-map frames.

``RunRecorder`` is told about every step (or fast-forwarded stretch of decode steps) and every event; it keeps

- one *record* per step or stretch (``RECORD_COLUMNS``: when it ended, how long it took, how many iterations it
  stands for, the batch, the admitted requests, the tokens, and the bytes of every memory category then);
- the *events* (``EVENT_KINDS``): the time, the kind, the request (-1: none) and a count (chunks, pages);
- the *frames*: the GPU and CPU chunk maps about every ``frame_dt`` of simulated time; whenever they exceed
  ``2 × n_frames`` every other one is dropped and the spacing doubles, so a long run keeps n_frames to
  2 × n_frames of them, evenly spaced (the last one is the final state).

``policy_run`` turns the scheduler's per-request times and the records into a ``PolicyRun`` with its statistics.
This is not the memory-snapshot export (``snapshot.py`` turns the pool's operation log into PyTorch's format).

Invariants (``check()``): every record column and every event column has one entry per record / event; event
times never decrease; frame times never decrease and there are at most ``2 × n_frames + 1`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .policies import CATEGORIES, MemoryPolicy

EVENT_KINDS = ("inflate", "deflate", "lend", "offload", "reload", "preempt", "admit_chunked", "reject")
RECORD_COLUMNS = ("t", "dt", "n_iter", "batch", "admitted", "prefill_tokens", "decode_tokens", *CATEGORIES, "cpu_kv")
EVENT_COLUMNS = ("t", "kind", "req", "n")


@dataclass
class PolicyRun:
    """Everything one policy's simulation produced (arrays per request, per record, per frame)."""

    policy: str
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    status: np.ndarray
    preempted: np.ndarray
    rec: dict[str, np.ndarray]
    frames: np.ndarray
    frame_t: np.ndarray
    cpu_frames: np.ndarray
    events: dict[str, np.ndarray]
    stats: dict
    layout: dict
    oplog: list = field(default_factory=list)


class RunRecorder:
    def __init__(self, memory: MemoryPolicy, n_frames: int, frame_dt: float):
        self.memory = memory
        self.n_frames = n_frames
        self.frame_dt = frame_dt
        self.next_frame = 0.0
        self.columns: dict[str, list] = {k: [] for k in RECORD_COLUMNS}
        self.events: dict[str, list] = {k: [] for k in EVENT_COLUMNS}
        self.frames: list[np.ndarray] = []
        self.cpu_frames: list[np.ndarray] = []
        self.frame_t: list[float] = []

    def event(self, t: float, kind: str, request: int, n: int = 0) -> None:
        ev = self.events
        ev["t"].append(t)
        ev["kind"].append(EVENT_KINDS.index(kind))
        ev["req"].append(request)
        ev["n"].append(n)

    def record(
        self, t: float, dt: float, n_iter: int, batch: int, admitted: int, prefill_tokens: int, decode_tokens: int, runtime_active: float
    ) -> None:
        """One step or stretch ending at ``t``; a frame too when one is due."""
        col = self.columns
        col["t"].append(t)
        col["dt"].append(dt)
        col["n_iter"].append(n_iter)
        col["batch"].append(batch)
        col["admitted"].append(admitted)
        col["prefill_tokens"].append(prefill_tokens)
        col["decode_tokens"].append(decode_tokens)
        for k, v in self.memory.memory(runtime_active).items():
            col[k].append(v)
        if self.n_frames and t >= self.next_frame:
            self.add_frame(t, runtime_active)
            self.next_frame = t + self.frame_dt
            if len(self.frames) > 2 * self.n_frames:
                self.frames, self.cpu_frames, self.frame_t = self.frames[::2], self.cpu_frames[::2], self.frame_t[::2]
                self.frame_dt *= 2

    def add_frame(self, t: float, runtime_active_bytes: float) -> None:
        """Keep the GPU and CPU chunk maps as they are now."""
        self.frames.append(self.memory.chunk_map(runtime_active_bytes))
        self.cpu_frames.append(self.memory.cpu_map())
        self.frame_t.append(t)

    def check(self) -> None:
        """Raise AssertionError if an invariant (module docstring) is broken."""
        n = len(self.columns["t"])
        assert all(len(v) == n for v in self.columns.values()), "record columns of different lengths"
        m = len(self.events["t"])
        assert all(len(v) == m for v in self.events.values()), "event columns of different lengths"
        assert np.all(np.diff(self.events["t"]) >= 0), "events out of time order"
        assert len(self.frames) == len(self.cpu_frames) == len(self.frame_t) <= 2 * self.n_frames + 1, "too many frames"
        assert np.all(np.diff(self.frame_t) >= 0), "frames out of time order"


def _percentile(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if len(x) else float("nan")


def policy_run(policy: str, scheduler, recorder: RunRecorder, oplog: list | None) -> PolicyRun:
    """The run's per-request latencies, its records, events and frames, and its statistics."""
    s, memory, p = scheduler, recorder.memory, scheduler.p
    out = s.output
    ttft = s.first_token_s - s.arrival
    tpot = np.where(out > 1, (s.finish_s - s.first_token_s) / np.maximum(out - 1, 1), np.nan)
    e2e = s.finish_s - s.arrival
    done = s.state == s.DONE
    makespan = float(np.nanmax(s.finish_s)) if done.any() else 0.0
    rec = {k: np.asarray(v, dtype=float) for k, v in recorder.columns.items()}
    good = done & (ttft <= s.ttft_target) & ((tpot <= p.tpot_slo_s) | (out <= 1))
    tokens = float(out[done].sum())
    ev = {k: np.asarray(v) for k, v in recorder.events.items()}
    stats = dict(
        decode_tokens_per_s=tokens / makespan if makespan > 0 else 0.0,
        goodput_rps=float(good.sum()) / makespan if makespan > 0 else 0.0,
        max_batch=int(rec["batch"].max()) if len(rec["batch"]) else 0,
        max_admitted=int(rec["admitted"].max()) if len(rec["admitted"]) else 0,
        mean_batch=float(np.average(rec["batch"], weights=rec["dt"])) if rec["dt"].sum() > 0 else 0.0,
        preemptions=s.preemptions,
        offloads=s.offloads,
        reloads=s.reloads,
        rejected=s.rejected,
        chunk_maps=memory.maps,
        chunk_unmaps=memory.unmaps,
        lends=int(ev["n"][ev["kind"] == EVENT_KINDS.index("lend")].sum()) if len(ev["kind"]) else 0,
        pcie_gib=memory.pcie_bytes / 2**30,
        ttft_p50_s=_percentile(ttft, 50),
        ttft_p99_s=_percentile(ttft, 99),
        tpot_p50_s=_percentile(tpot, 50),
        tpot_p99_s=_percentile(tpot, 99),
        e2e_p50_s=_percentile(e2e, 50),
        makespan_s=makespan,
        iterations=s.iterations,
        finished=int(done.sum()),
        slo_attainment=float(good.sum()) / max(1, len(out)),
        kv_capacity_tokens=int(memory.kv_capacity_tokens()),
        static_reserve_gib=memory.reserve_bytes / 2**30,
    )
    return PolicyRun(
        policy,
        ttft,
        tpot,
        e2e,
        s.state.copy(),
        s.preempted.copy(),
        rec,
        np.array(recorder.frames, dtype=np.uint8),
        np.asarray(recorder.frame_t),
        np.array(recorder.cpu_frames, dtype=np.uint8),
        ev,
        stats,
        memory.layout(),
        oplog or [],
    )
