"""One policy's simulation over a request trace: a memory policy, the scheduler driving it, the recorder watching it.

- ``policies``: the static (vLLM-faithful) and the elastic (eLLM) memory policies behind one interface;
- ``scheduler``: iteration-level continuous batching (vLLM v1), eLLM's SLO-aware admission, fast-forward;
- ``recorder``: the timeline, events and chunk-map frames a run keeps, and its statistics (``PolicyRun``).

Both policies share the memory cap ``gpu_memory_utilization × memory``, the scheduler limits, the recompute
preemption mode and the roofline step time; the three POLICIES differ only in the memory policy, the
scheduler's admission rule and the step's token budget (static_chunked: ``chunk_tokens``; the others: at
least the longest prompt, so a prompt is prefilled in one step when memory allows).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .params import SimParams
from .policies import CATEGORIES, ElasticMemory, MemoryPolicy, StaticMemory
from .recorder import EVENT_KINDS, PolicyRun, RunRecorder, policy_run
from .scheduler import ElasticScheduler, Scheduler
from .traces import Trace

POLICIES = ("static_chunked", "static_unchunked", "elastic")

__all__ = ["POLICIES", "CATEGORIES", "EVENT_KINDS", "PolicyRun", "SimParams", "Simulator", "simulate"]


class Simulator:
    """``Simulator(policy, params, trace)``; ``run()`` yields progress, ``result()`` is the PolicyRun.

    ``fast_forward=False`` steps decode-only stretches one iteration at a time (the tests compare the two);
    ``check_each_step=True`` checks every invariant after every step (slow; for tests).
    """

    def __init__(self, policy: str, p: SimParams, trace: Trace, fast_forward: bool = True, check_each_step: bool = False):
        if policy not in POLICIES:
            raise ValueError(f"policy: {policy!r} (allowed: {', '.join(POLICIES)})")
        self.policy, self.p, self.trace = policy, p, trace
        n = len(trace)
        prompt = trace.input_tokens.astype(np.int64)
        # TTFT target per request: max(ttft_slo_s, ttft_slo_scale × its unloaded single-step prefill time)
        P = prompt.astype(float)
        alone = p.roofline.step_time(P, 1.0, P * (P + 1) / 2, 0.0)
        self.ttft_target = np.maximum(p.ttft_slo_s, p.ttft_slo_scale * alone)
        longest = int(prompt.max()) if n else 1
        budget = p.chunk_tokens if policy == "static_chunked" else max(p.budget_tokens, longest)
        self.oplog: list | None = [] if p.log_ops else None
        self.memory: MemoryPolicy
        if policy == "elastic":
            self.memory = ElasticMemory(p, n, log=self.oplog)
        else:
            self.memory = StaticMemory(p, n, budget, log=self.oplog)
        # frame spacing from a lower bound on the run's length (arrival span, or the prefills done back to back);
        # frames are thinned 2:1 whenever they exceed 2 × n_frames, so a poor guess only costs a few renders
        span = float(trace.arrival_s[-1]) if n else 0.0
        frame_dt = max(span, float(alone.sum()), 1e-3) / max(1, p.n_frames)
        self.recorder = RunRecorder(self.memory, p.n_frames, frame_dt)
        kind = ElasticScheduler if policy == "elastic" else Scheduler
        self.scheduler = kind(p, trace, self.memory, self.recorder, budget, self.ttft_target, fast_forward)
        self.check_each_step = check_each_step

    def run(self) -> Iterator[float]:
        """Simulate to the end; yields the fraction of requests finished now and then (for progress)."""
        yield from self.scheduler.run(self.check if self.check_each_step else None)

    def result(self) -> PolicyRun:
        return policy_run(self.policy, self.scheduler, self.recorder, self.oplog)

    def check(self) -> None:
        """Every invariant of the memory policy (and its pools), the scheduler and the recorder."""
        self.memory.check()
        self.scheduler.check()
        self.recorder.check()


def simulate(policy: str, p: SimParams, trace: Trace) -> Iterator[float | PolicyRun]:
    """Yields progress fractions, then the PolicyRun."""
    sim = Simulator(policy, p, trace)
    yield from sim.run()
    yield sim.result()
