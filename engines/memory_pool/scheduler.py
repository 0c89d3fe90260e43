"""Iteration-level continuous batching over a request trace (vLLM v1's unified scheduler), on a memory policy.

One iteration: every decoding request gets a page slot for one token (``ensure_growth``; when the pages run
short the newest running request is offloaded to the CPU buffer if the policy has room there, else preempted:
its KV is dropped and prompt + generated tokens are prefilled again later); offloaded requests come back first
when memory frees (``reload``); then prefill work fills the rest of the token budget: continuing partial
prefills first, then new admissions in arrival order (``schedule_prefills``); the fused batch runs for the
roofline step time (``models.Roofline``) plus whatever the memory operations of the step cost; prefills that
finish emit their first token, decoders emit one token each.

``Scheduler`` admits a request only when its whole prompt's KV fits above the watermark (vLLM).
``ElasticScheduler`` (eLLM) adds SLO-aware admission: if the prompt does not fit unchunked it tries a prefill
chunked to ``chunk_tokens``; if that does not fit either, for a request that can still meet its TTFT target it
takes the cheapest of *wait* (predicted from the decoders' remaining tokens), *offload* victims' KV to the CPU
buffer, or *preempt* victims (recompute), each allowed only if the victims' predicted TPOT stays within target.
A request already past hope waits (sacrificing others for it would lower goodput).

Decode-only stretches (no prefill, no admission possible, nothing to reload) are advanced several iterations at
once (``fast_forward``) up to the next arrival, completion or memory exhaustion; the step times inside are
computed one by one (vectorised), so the result equals stepping one at a time (the tests compare the two).

Every request is in one state (``WAITING``, ``RUNNING``, ``OFFLOADED``, ``DONE``, ``REJECTED``).
Invariants (``check()``):

1. the waiting queue, the running list and the offloaded list are disjoint and hold exactly the arrived
   requests in state WAITING, RUNNING and OFFLOADED; requests not yet arrived are WAITING and in none;
2. running + offloaded requests never exceed ``max_num_seqs``;
3. only running requests hold GPU pages, and each holds at least the pages of the KV it has stored;
4. no request generated more than its output; a finished one generated exactly its output, after its first token.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

from .params import SimParams
from .policies import MemoryPolicy
from .recorder import RunRecorder
from .traces import Trace

FAST_FORWARD_MAX_STEPS = 8192  # at most this many decode iterations in one stretch


class Scheduler:
    WAITING, RUNNING, OFFLOADED, DONE, REJECTED = 0, 1, 2, 3, 4

    def __init__(
        self,
        p: SimParams,
        trace: Trace,
        memory: MemoryPolicy,
        recorder: RunRecorder,
        budget_tokens: int,
        ttft_target: np.ndarray,
        fast_forward: bool = True,
    ):
        self.p, self.memory, self.recorder = p, memory, recorder
        self.roofline = p.roofline
        n = len(trace)
        self.arrival = trace.arrival_s
        self.prompt = trace.input_tokens.astype(np.int64)
        self.output = trace.output_tokens.astype(np.int64)
        self.kv_tokens = np.zeros(n, np.int64)  # tokens whose KV is stored
        self.generated = np.zeros(n, np.int64)  # tokens generated so far
        self.prefill_target = self.prompt.copy()  # tokens to prefill: the prompt, or prompt + generated after a preemption
        self.state = np.zeros(n, np.int8)
        self.first_token_s = np.full(n, np.nan)
        self.finish_s = np.full(n, np.nan)
        self.preempted = np.zeros(n, np.int64)  # times each request was preempted
        self.chunk_limit = np.zeros(n, np.int64)  # the most prefill tokens a request gets per step (set at admission)
        self.ttft_target = ttft_target
        self.budget = budget_tokens
        self.chunk = p.chunk_tokens
        self.fast_forward_allowed = fast_forward
        self.now = 0.0
        self.waiting: deque[int] = deque()
        self.running: list[int] = []
        self.offloaded: list[int] = []
        self.next_arrival = 0
        self.offloads = self.reloads = self.preemptions = self.rejected = 0
        self.iterations = 0
        self.runtime_active_bytes = 0.0  # the runtime memory the current step uses
        self.admitted = 0  # running + offloaded requests in the current step
        memory.on_event = self.event

    def event(self, kind: str, r: int, n: int = 0) -> None:
        self.recorder.event(self.now, kind, r, n)

    # ---- moving requests ---------------------------------------------------------------------------
    def preempt(self, r: int) -> None:
        """Recompute preemption: drop the KV; prompt + generated tokens are prefilled again later."""
        self.memory.free(r)
        self.running.remove(r)
        self.kv_tokens[r] = 0
        self.prefill_target[r] = self.prompt[r] + self.generated[r]
        self.state[r] = self.WAITING
        self.preempted[r] += 1
        self.preemptions += 1
        self.waiting.appendleft(r)
        self.event("preempt", r)

    def offload(self, r: int) -> float:
        """Move request r's KV pages to the CPU buffer; returns the PCIe time."""
        n, cost = self.memory.offload(r)
        self.running.remove(r)
        self.offloaded.append(r)
        self.state[r] = self.OFFLOADED
        self.offloads += 1
        self.event("offload", r, n)
        return cost

    def reload(self, sched_tokens: int, sched_seqs: int) -> float:
        """Bring offloaded requests back, oldest first, while they fit beside the step scheduled so far."""
        cost = 0.0
        memory = self.memory
        while self.offloaded and len(self.running) < self.p.max_num_seqs:
            r = self.offloaded[0]
            need = memory.pages_for_tokens(self.kv_tokens[r] + 1)
            if not memory.fits(need, sched_tokens + 1, sched_seqs + 1):
                break
            self.offloaded.pop(0)
            n, seconds = memory.restore(r, need, memory.runtime_keep(sched_tokens + 1, sched_seqs + 1))
            cost += seconds
            self.running.append(r)
            self.state[r] = self.RUNNING
            self.reloads += 1
            self.event("reload", r, n)
            if self.kv_tokens[r] >= self.prefill_target[r]:
                sched_tokens += 1
                sched_seqs += 1
        return cost

    def reject(self, r: int) -> None:
        self.state[r] = self.REJECTED
        self.rejected += 1
        self.event("reject", r)

    def complete(self) -> None:
        """Requests that generated their whole output leave, and their KV pages go back."""
        if not self.running:
            return
        run = np.asarray(self.running)
        for r in run[self.generated[run] >= self.output[run]].tolist():
            self.running.remove(r)
            self.memory.free(r)
            self.state[r] = self.DONE
            self.finish_s[r] = self.now

    # ---- scheduling --------------------------------------------------------------------------------
    def decoders(self) -> np.ndarray:
        """Running requests whose prefill is done, oldest admission first."""
        run = np.asarray(self.running, dtype=np.int64)
        return run[self.kv_tokens[run] >= self.prefill_target[run]]

    def ensure_growth(self) -> float:
        """Give every decoder a slot for its next token; offload (or preempt) the newest when short."""
        cost = 0.0
        memory = self.memory
        while True:
            d = self.decoders()
            if not len(d):
                return cost
            need = np.maximum(0, memory.pages_for(self.kv_tokens[d] + 1) - memory.held[d])
            total = int(need.sum())
            keep = memory.runtime_keep(len(d), len(d))
            if total <= memory.growth_room(keep):
                return memory.take_each(d, need, keep, cost)
            victim = self.running[-1]
            held = int(memory.held[victim])
            if self.kv_tokens[victim] > 0 and held > 0 and memory.can_offload(held):
                cost += self.offload(victim)
            else:
                self.preempt(victim)

    def admit_when_short(self, r: int, kv_need: int, tokens: int, full: int, seqs: int) -> tuple[int, float] | None:
        """The head of the queue does not fit with its whole prompt: the prefill tokens it gets now and what making
        room cost, or None to wait (vLLM: wait)."""
        return None

    def schedule_prefills(self, n_dec: int) -> tuple[list[tuple[int, int]], float]:
        """Prefill work for this step: continuing prefills, then admissions in arrival order."""
        memory = self.memory
        budget = self.budget - n_dec
        plan: list[tuple[int, int]] = []
        cost = 0.0
        tokens, seqs = n_dec, n_dec
        run = np.asarray(self.running, dtype=np.int64)
        for r in run[self.kv_tokens[run] < self.prefill_target[run]].tolist() if len(run) else []:
            if budget <= 0:
                break
            c = min(int(self.prefill_target[r] - self.kv_tokens[r]), budget, int(self.chunk_limit[r]))
            room = memory.prefill_tokens_room(seqs + 1)  # the runtime must still fit beside the KV as it is now
            if room is not None:
                c = min(c, room)
                if c <= 0:
                    continue
            plan.append((r, c))
            budget -= c
            tokens += c
            seqs += 1
        while self.waiting and budget > 0 and len(self.running) + len(self.offloaded) < self.p.max_num_seqs:
            r = self.waiting[0]
            if not memory.feasible(memory.pages_for_tokens(self.prefill_target[r] + 1), min(self.chunk, self.budget)):
                self.waiting.popleft()  # it could never run, not even alone
                self.reject(r)
                continue
            kv_need = memory.pages_for_tokens(self.prefill_target[r])
            full = min(int(self.prefill_target[r]), budget)
            if memory.fits(kv_need, tokens + full, seqs + 1):
                c = full
                self.chunk_limit[r] = self.budget
            else:
                admitted = self.admit_when_short(r, kv_need, tokens, full, seqs)
                if admitted is None:
                    break
                c, extra = admitted
                cost += extra
            self.waiting.popleft()
            cost += memory.take(r, kv_need, memory.runtime_keep(tokens + c, seqs + 1))
            self.running.append(r)
            self.state[r] = self.RUNNING
            plan.append((r, c))
            budget -= c
            tokens += c
            seqs += 1
        return plan, cost

    # ---- one step ----------------------------------------------------------------------------------
    def step(self) -> None:
        memory = self.memory
        cost = self.ensure_growth()
        d = self.decoders()
        if self.offloaded:
            cost += self.reload(len(d), len(d))
            d = self.decoders()
        plan, prefill_cost = self.schedule_prefills(len(d))
        cost += prefill_cost
        self.admitted = len(self.running) + len(self.offloaded)
        n_dec = len(d)
        n_pref = sum(c for _, c in plan)
        T = n_dec + n_pref
        S = n_dec + sum(1 for r, c in plan if self.kv_tokens[r] + c >= self.prefill_target[r])  # sequences sampled
        cost += memory.inflate(T, n_dec + len(plan))
        self.runtime_active_bytes = float(memory.runtime_bytes(T, n_dec + len(plan))) if T else 0.0
        if not plan and n_dec and self.can_fast_forward():
            self.fast_forward(d, cost)
            return
        ctx_dec = float(self.kv_tokens[d].sum()) if len(d) else 0.0
        pairs = ctx_dec + n_dec
        kv_read = ctx_dec
        for r, c in plan:
            p0 = float(self.kv_tokens[r])
            pairs += c * p0 + c * (c + 1) / 2
            kv_read += p0
        dt = float(self.roofline.step_time(T, S, pairs, kv_read)) + cost if T else cost
        self.now += dt
        self.iterations += 1
        if len(d):
            self.kv_tokens[d] += 1
            self.generated[d] += 1
        for r, c in plan:
            self.kv_tokens[r] += c
            if self.kv_tokens[r] >= self.prefill_target[r]:
                self.generated[r] += 1
                if np.isnan(self.first_token_s[r]):
                    self.first_token_s[r] = self.now
        done_tokens = n_dec + sum(1 for r, c in plan if self.kv_tokens[r] >= self.prefill_target[r])
        self.complete()
        if n_pref:
            self.now += memory.deflate(len(self.running))
        self.recorder.record(self.now, dt, 1, n_dec, self.admitted, n_pref, done_tokens, self.runtime_active_bytes)

    def can_fast_forward(self) -> bool:
        """No running request is still prefilling."""
        if not self.fast_forward_allowed:
            return False
        run = np.asarray(self.running, dtype=np.int64)
        return not (len(run) and np.any(self.kv_tokens[run] < self.prefill_target[run]))

    def fast_forward(self, d: np.ndarray, cost: float) -> None:
        """Advance K decode-only iterations at once (K ≥ 1), stopping before any event."""
        memory = self.memory
        B = len(d)
        K = min(int((self.output[d] - self.generated[d]).min()), FAST_FORWARD_MAX_STEPS)
        held = memory.held[d].copy()
        ctx = self.kv_tokens[d]

        def extra(k):  # pages steps 2..k need beyond what the decoders hold
            return int((memory.pages_for(ctx + k) - held).sum())

        # memory: the pages for steps 2..K come from room a single step could use without preempting
        keep = memory.runtime_keep(B, B)
        room = memory.growth_room(keep)
        if K > 1 and extra(K) > room:
            lo, hi = 1, K  # extra(lo) <= room (0), extra(hi) > room
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if extra(mid) <= room:
                    lo = mid
                else:
                    hi = mid
            K = lo
        ctx0 = float(ctx.sum())
        ks = np.arange(K, dtype=float)
        times = self.roofline.decode_time(B, ctx0 + B * ks)
        times[0] += cost
        if K > 1:
            # step k pays for the pages its token needs, as a single step would (and before the arrival cut below)
            take_costs = memory.stretch_take_costs(ctx, K)
            if take_costs is not None:
                times += take_costs
        cum = np.cumsum(times)
        if self.next_arrival < len(self.arrival) and K > 1:
            m = int(np.searchsorted(cum[:-1], self.arrival[self.next_arrival] - self.now, side="left"))
            K = min(K, 1 + m)
            cum = cum[:K]
        # map the pages steps 2..K need (what that costs is in the step times above)
        memory.take_each(d, memory.pages_for(ctx + K) - held, keep)
        dt = float(cum[K - 1])
        self.now += dt
        self.iterations += K
        self.kv_tokens[d] += K
        self.generated[d] += K
        self.complete()
        self.recorder.record(self.now, dt, K, B, self.admitted, 0, B * K, self.runtime_active_bytes)

    # ---- the run -----------------------------------------------------------------------------------
    def arrive(self) -> None:
        """Requests that have arrived by now join the queue."""
        n = len(self.arrival)
        while self.next_arrival < n and self.arrival[self.next_arrival] <= self.now:
            self.waiting.append(self.next_arrival)
            self.next_arrival += 1

    def run(self, after_step: Callable[[], None] | None = None) -> Iterator[float]:
        """Simulate to the end; yields the fraction of requests finished now and then (for progress)."""
        n = len(self.arrival)
        last_yield = time.monotonic()
        tick = 0
        while True:
            self.arrive()
            if not self.running and not self.offloaded and not self.waiting:
                if self.next_arrival >= n:
                    break
                self.now = float(self.arrival[self.next_arrival])
                continue
            before = (self.iterations, len(self.running), len(self.waiting), len(self.offloaded))
            self.step()
            if (self.iterations, len(self.running), len(self.waiting), len(self.offloaded)) == before and not self.running:
                # nothing can run and nothing runs: the head can never be admitted
                self.reject(self.waiting.popleft())
            if after_step is not None:
                after_step()
            tick += 1
            if tick % 64 == 0 and time.monotonic() - last_yield > 0.1:
                last_yield = time.monotonic()
                yield float(np.count_nonzero(self.state >= self.DONE)) / max(1, n)
        if self.p.n_frames:
            self.recorder.add_frame(self.now, self.runtime_active_bytes)

    # ---- invariants --------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise AssertionError if an invariant (module docstring) is broken."""
        queues = {self.WAITING: list(self.waiting), self.RUNNING: self.running, self.OFFLOADED: self.offloaded}
        members = [r for q in queues.values() for r in q]
        assert len(set(members)) == len(members), "a request sits in two queues"
        for state, q in queues.items():
            assert np.all(self.state[np.asarray(q, dtype=np.int64)] == state), f"a request in queue {state} has another state"
        arrived_waiting = int(np.count_nonzero(self.state[: self.next_arrival] == self.WAITING))
        assert arrived_waiting == len(self.waiting), "an arrived request is waiting outside the queue"
        assert np.all(self.state[self.next_arrival :] == self.WAITING), "a request not yet arrived was scheduled"
        assert len(self.running) + len(self.offloaded) <= self.p.max_num_seqs, "more requests admitted than max_num_seqs"
        holding = np.flatnonzero(self.memory.held > 0)
        assert set(holding.tolist()) <= set(self.running), "a request that is not running holds GPU pages"
        run = np.asarray(self.running, dtype=np.int64)
        assert np.all(self.memory.held[run] >= self.memory.pages_for(self.kv_tokens[run])), "KV stored without pages"
        assert np.all(self.generated <= self.output), "a request generated more than its output"
        done = self.state == self.DONE
        assert np.all(self.generated[done] == self.output[done]), "a finished request is missing tokens"
        assert np.all(self.finish_s[done] >= self.first_token_s[done]), "finished before its first token"


class ElasticScheduler(Scheduler):
    """eLLM's scheduler: chunked and SLO-aware admission (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefill_seconds_of: dict[int, float] = {}  # tokens -> an unloaded prefill's time in chunks (the roofline's)

    def prefill_seconds(self, tokens: int) -> float:
        """``roofline.prefill_time(tokens, chunk_tokens)``, remembered: admission asks for the same lengths every step."""
        t = self.prefill_seconds_of.get(tokens)
        if t is None:
            t = self.prefill_seconds_of[tokens] = self.roofline.prefill_time(tokens, self.chunk)
        return t

    def admit_when_short(self, r: int, kv_need: int, tokens: int, full: int, seqs: int) -> tuple[int, float] | None:
        chunked = min(full, self.chunk)
        if self.memory.fits(kv_need, tokens + chunked, seqs + 1):
            self.chunk_limit[r] = self.chunk
            self.event("admit_chunked", r)
            return chunked, 0.0
        self.waiting.popleft()  # victims preempted below queue up ahead of the others, not ahead of r
        ok, cost = self.slo_admit(r, kv_need, tokens + chunked, seqs + 1)
        self.waiting.appendleft(r)
        if not ok:
            return None
        # victims were preempted to the queue's front: put r back ahead of them
        self.waiting.remove(r)
        self.waiting.appendleft(r)
        self.chunk_limit[r] = self.chunk
        return chunked, cost

    def predicted_wait(self, shortfall: int, d: np.ndarray) -> float:
        """Seconds until decoders ``d`` finishing free ``shortfall`` pages (remaining tokens × current step time)."""
        if not len(d):
            return math.inf
        remaining = self.output[d] - self.generated[d]
        order = np.argsort(remaining)
        freed = np.cumsum(self.memory.held[d[order]])
        k = int(np.searchsorted(freed, shortfall))
        if k >= len(d):
            return math.inf
        step = float(self.roofline.decode_time(len(d), float(self.kv_tokens[d].sum())))
        return float(remaining[order[k]]) * step

    def slo_admit(self, r: int, kv_need: int, tokens: int, seqs: int) -> tuple[bool, float]:
        """When even a chunked prefill does not fit: wait, offload or preempt (module docstring)."""
        p, memory, rf = self.p, self.memory, self.roofline
        if self.generated[r] > 0:
            return False, 0.0  # a recompute waits its turn
        prefill = self.prefill_seconds(int(self.prefill_target[r]))
        waited = self.now - self.arrival[r]
        target = self.ttft_target[r]
        if waited + prefill > target:
            # past hope: even a prefill starting now misses the target, and every choice below only adds to the
            # wait (a wait, a transfer: never negative), so none meets it; the request waits its turn
            return False, 0.0
        shortfall = kv_need + memory.runtime_keep(tokens, seqs) - memory.available()
        dec = self.decoders()  # nothing below changes them until a choice is made
        if waited + self.predicted_wait(shortfall, dec) + prefill <= target:
            return False, 0.0  # waiting still meets the TTFT target
        if shortfall <= 0:
            return False, 0.0
        # victims: newest first, only decoders that have produced tokens, until they hold the shortfall
        newest_first = np.asarray(self.running[::-1], dtype=np.int64)
        eligible = newest_first[
            ~np.isnan(self.first_token_s[newest_first]) & (self.kv_tokens[newest_first] >= self.prefill_target[newest_first])
        ]
        freed = np.cumsum(memory.held[eligible])
        k = int(np.searchsorted(freed, shortfall, side="left"))  # the first prefix that holds enough
        if k >= len(eligible):
            return False, 0.0
        victims, got = eligible[: k + 1].tolist(), int(freed[k])
        options = []
        if memory.can_offload(got):
            transfer = got * memory.chunk_bytes / p.gpu.pcie_bytes_per_s
            options.append(("offload", transfer, prefill + 2 * transfer))
        recompute = sum(self.prefill_seconds(int(self.kv_tokens[v])) for v in victims)
        options.append(("preempt", 0.0, prefill + recompute))
        decode_step = float(rf.decode_time(max(1, len(dec)), float(self.kv_tokens[self.running].sum())))
        v = np.asarray(victims, dtype=np.int64)
        v = v[self.output[v] > 1]  # a one-token request has no TPOT
        left, first, out = self.output[v] - self.generated[v], self.first_token_s[v], self.output[v]
        for kind, delay, pause in sorted(options, key=lambda o: o[2]):
            if waited + delay + prefill > target:
                continue
            tpot = (self.now - first + pause + left * decode_step) / (out - 1)  # the victims' TPOT if paused so long
            if not np.all(tpot <= p.tpot_slo_s):
                continue
            cost = 0.0
            for v in victims:
                if kind == "offload":
                    cost += self.offload(v)
                else:
                    self.preempt(v)
            return True, cost
        return False, 0.0
