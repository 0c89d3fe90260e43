"""Iteration-level continuous batching over a request trace, under a static or an elastic memory policy.

One iteration (vLLM v1's unified scheduler): every decoding request gets a slot for one token; then
prefill work (continuing partial prefills first, then new admissions in arrival order) fills the
remaining ``max_num_batched_tokens`` budget; the fused batch runs for the roofline step time
(``models.Roofline``); prefills that finish emit their first token, decoders emit one token each.

Policies (both share the memory cap ``gpu_memory_utilization × memory``, the scheduler limits, the
recompute preemption mode and the roofline):

- **static** (vLLM-faithful): at start-up a profiling run reserves ``A(max_num_batched_tokens,
  max_num_seqs)`` for activations; KV blocks of 16 tokens fill ``util × total − weights − overhead −
  reserve``. A request is admitted when blocks for its whole prompt are free above a 1% watermark;
  when a decoder cannot grow, the newest running request is preempted (recompute: its KV is dropped
  and prompt + generated tokens are prefilled again later).
- **elastic** (eLLM): one pool of 2 MiB chunks holds weights, runtime (activation) memory and KV
  pages. Runtime memory is *inflated* to ``A(tokens in step, sequences in step)`` when a step needs it
  and *deflated* after: idle runtime chunks stay mapped (``deflate="lazy"``, the default; the paper
  does not say when they are unmapped, and remapping costs time) until KV growth or an admission
  borrows them (unmap + map each). Admission is SLO-aware: an unchunked prefill if it fits; else a
  prefill chunked to ``chunk_tokens`` if that fits; else, for a request that can still meet its TTFT
  target, the cheapest of *wait* (predicted from the decoders' remaining tokens), *offload* victims'
  KV to the CPU buffer, or *preempt* victims (recompute), each allowed only if the victims' predicted
  TPOT stays within target. A request already past hope waits (sacrificing others for it would lower
  goodput). When a decoder cannot grow: borrow idle runtime chunks, then offload the newest request to
  the CPU buffer (if room), then preempt it. Offloaded requests do not decode and are not in the batch;
  they come back (before new admissions) when memory frees. Every chunk map/unmap costs
  ``map_us``/``unmap_us`` and every KV byte over PCIe costs ``bytes / pcie_bw``; both are added to the
  step in which they happen (not overlapped with compute: the conservative reading).

Decode-only stretches (no prefill, no admission possible, nothing to reload) are advanced several
iterations at once ("fast-forward") up to the next arrival, completion or memory exhaustion; the step
times inside are computed one by one (vectorised), so the result equals stepping one at a time.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .models import GpuSpec, ModelSpec, Roofline
from .pool import ChunkPool
from .traces import Trace

POLICIES = ("static_chunked", "static_unchunked", "elastic")
CATEGORIES = ("weights", "overhead", "runtime_active", "runtime_idle", "kv_used", "kv_free", "free")
EVENT_KINDS = ("inflate", "deflate", "lend", "offload", "reload", "preempt", "admit_chunked", "reject")
# chunk-map cell codes: request KV cells are KV0 + (request % 240)
FREE_C, WEIGHTS_C, OVERHEAD_C, RT_ACTIVE_C, RT_IDLE_C, BEYOND_C, KVFREE_C, KV0 = 0, 1, 2, 3, 4, 5, 6, 8
WEIGHTS, OVERHEAD, RUNTIME, KVPOOL = 0, 1, 2, 3  # elastic pool owners; request r owns r + OWNER0
OWNER0 = 8
WAITING, RUNNING, OFFLOADED, DONE, REJECTED = 0, 1, 2, 3, 4


@dataclass
class SimParams:
    model: ModelSpec
    gpu: GpuSpec
    roofline: Roofline
    util: float = 0.9
    overhead_bytes: int = 1 << 30
    workspace_bytes: int = 256 << 20
    max_num_seqs: int = 256
    budget_tokens: int = 8192
    chunk_tokens: int = 8192
    block_tokens: int = 16
    chunk_bytes: int = 2 << 20
    watermark: float = 0.01
    cpu_buffer_bytes: int = 64 << 30
    ttft_slo_s: float = 2.0
    ttft_slo_scale: float = 5.0
    tpot_slo_s: float = 0.1
    deflate: str = "lazy"
    n_frames: int = 120
    log_ops: bool = False


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


def _ceil_div(a, b):
    return -(-np.asarray(a) // b)


class Simulator:
    def __init__(self, policy: str, p: SimParams, trace: Trace):
        if policy not in POLICIES:
            raise ValueError(f"policy: {policy!r} (allowed: {', '.join(POLICIES)})")
        self.policy, self.p, self.trace = policy, p, trace
        self.elastic = policy == "elastic"
        m = p.model
        self.kvb = m.kv_bytes_per_token
        self.rf = p.roofline
        n = len(trace)
        self.arrival = trace.arrival_s
        self.prompt = trace.input_tokens.astype(np.int64)
        self.output = trace.output_tokens.astype(np.int64)
        self.ctx = np.zeros(n, np.int64)  # tokens whose KV is stored
        self.gen = np.zeros(n, np.int64)  # tokens generated so far
        self.target = self.prompt.copy()  # tokens to prefill (prompt, or prompt + generated after a preemption)
        self.state = np.zeros(n, np.int8)
        self.first = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.npre = np.zeros(n, np.int64)
        self.hold = np.zeros(n, np.int64)  # KV pages each request holds on the GPU (mirrors the pool's page tables)
        self.req_chunk = np.zeros(n, np.int64)
        # TTFT target per request: max(ttft_slo_s, ttft_slo_scale × its unloaded single-step prefill time)
        P = self.prompt.astype(float)
        alone = p.roofline.step_time(P, 1.0, P * (P + 1) / 2, 0.0)
        self.ttft_target = np.maximum(p.ttft_slo_s, p.ttft_slo_scale * alone)
        longest = int(self.prompt.max()) if n else 1
        if policy == "static_chunked":
            self.budget = p.chunk_tokens
        else:
            self.budget = max(p.budget_tokens, longest)
        self.chunk = p.chunk_tokens
        # memory layout
        C = p.chunk_bytes
        self.n_total = int(p.gpu.memory_bytes // C)
        self.cap_bytes = int(p.util * p.gpu.memory_bytes)
        self.cap = int(self.cap_bytes // C)
        self.w_chunks = int(_ceil_div(m.weight_bytes, C))
        self.o_chunks = int(_ceil_div(p.overhead_bytes, C))
        self.a_tok = m.activation_bytes_per_token
        self.a_seq = m.vocab_size * 8
        if m.weight_bytes + p.overhead_bytes + 2 * C > self.cap_bytes:
            raise ValueError(
                f"gpu: {m.name} needs {m.weight_bytes / 2**30:.1f} GiB of weights per GPU, more than "
                f"{p.util:g} × {p.gpu.memory_bytes / 2**30:.0f} GiB leaves (allowed: a larger GPU or a higher utilization)"
            )
        oplog = [] if p.log_ops else None
        self.oplog = oplog
        if self.elastic:
            self.unit_bytes = C
            self.tpp = max(1, C // self.kvb)  # tokens per KV page (a page = cpp chunks)
            self.cpp = max(1, int(_ceil_div(self.kvb, C)))
            self.pool = ChunkPool(self.cap, C, log=oplog)
            self.pool.map(WEIGHTS, self.w_chunks)
            self.pool.map(OVERHEAD, self.o_chunks)
            # start-up: every other chunk is mapped into the KV virtual tensor (as vLLM pre-allocates its KV
            # cache), so steady-state KV allocation needs no map call; the runtime inflates out of it.
            self.pool.map(KVPOOL, self.pool.n_free)
            self.base_maps = self.pool.maps
            self.wm = int(math.ceil(p.watermark * (self.cap - self.w_chunks - self.o_chunks)))
            self.cpu = ChunkPool(int(p.cpu_buffer_bytes // C), C)
            self.reserve_bytes = 0
        else:
            self.unit_bytes = p.block_tokens * self.kvb
            self.tpp, self.cpp = p.block_tokens, 1
            self.reserve_bytes = int(self.activation(self.budget, p.max_num_seqs))
            kv_bytes = self.cap_bytes - m.weight_bytes - p.overhead_bytes - self.reserve_bytes
            self.n_blocks = max(0, int(kv_bytes // self.unit_bytes))
            self.pool = ChunkPool(self.n_blocks, self.unit_bytes, log=oplog)
            self.wm = int(math.ceil(p.watermark * self.n_blocks))
            self.cpu = ChunkPool(0, C)
            self.r_chunks = int(_ceil_div(self.reserve_bytes, C))
            self.base_maps = 0
        self.rt_active_bytes = 0.0
        self.admitted_now = 0
        self.maps = self.unmaps = 0  # map/unmap calls charged to the run (start-up mapping of weights excluded)
        # bookkeeping
        self.now = 0.0
        self.waiting: deque[int] = deque()
        self.running: list[int] = []
        self.offloaded: list[int] = []
        self.nxt = 0
        self.offloads = self.reloads = self.preemptions = self.rejected = 0
        self.pcie_bytes = 0.0
        self.iters = 0
        self.recs: dict[str, list] = {
            k: [] for k in ("t", "dt", "n_iter", "batch", "admitted", "prefill_tokens", "decode_tokens", *CATEGORIES, "cpu_kv")
        }
        self.ev: dict[str, list] = {"t": [], "kind": [], "req": [], "n": []}
        self.frames: list[np.ndarray] = []
        self.cpu_frames: list[np.ndarray] = []
        self.frame_t: list[float] = []
        # frame spacing from a lower bound on the run's length (arrival span, or the prefills done back to back);
        # frames are thinned 2:1 whenever they exceed 2 × n_frames, so a poor guess only costs a few renders
        span = float(self.arrival[-1]) if n else 0.0
        self.frame_dt = max(span, float(alone.sum()), 1e-3) / max(1, p.n_frames)
        self.next_frame = 0.0

    # ---- memory helpers --------------------------------------------------------------------------
    def activation(self, n_tokens, n_seqs):
        """``A(N, S) = N·b·(h + 3I/tp) + S·V·8 + workspace`` bytes (models.ModelSpec.activation_bytes)."""
        return n_tokens * self.a_tok + n_seqs * self.a_seq + self.p.workspace_bytes

    def rt_chunks(self, n_tokens, n_seqs) -> int:
        if n_tokens <= 0:
            return 0
        return int(_ceil_div(int(self.activation(n_tokens, n_seqs)), self.p.chunk_bytes))

    def pages_for(self, tokens):
        return _ceil_div(tokens, self.tpp) * self.cpp

    def owner(self, r: int) -> int:
        return r + OWNER0 if self.elastic else r

    def held(self, r: int) -> int:
        return int(self.hold[r])

    def check(self) -> None:
        """The per-request page tally agrees with the pool's page tables; the pool's own invariants hold."""
        for r in range(len(self.hold)):
            assert self.hold[r] == self.pool.n_pages(self.owner(r)), f"request {r}: tally {self.hold[r]}"
        self.pool.check()
        self.cpu.check()

    def rt_mapped(self) -> int:
        return self.pool.n_pages(RUNTIME) if self.elastic else 0

    def event(self, kind: str, r: int, n: int = 0) -> None:
        self.ev["t"].append(self.now)
        self.ev["kind"].append(EVENT_KINDS.index(kind))
        self.ev["req"].append(r)
        self.ev["n"].append(n)

    def spare(self) -> int:
        """Chunks usable without touching the runtime: unmapped free chunks plus KV-mapped unused ones."""
        return self.pool.n_free + (self.pool.n_pages(KVPOOL) if self.elastic else 0)

    def take(self, r: int, n: int, rt_keep: int) -> float:
        """Give request r ``n`` KV pages; returns the time it costs (s).

        Elastic order: chunks already mapped into the KV virtual tensor but unused (free, no map call:
        vAttention-style deferred reclamation), then unmapped free chunks (one map each), then idle
        runtime chunks (lent: unmap + map each).
        """
        if n <= 0:
            return 0.0
        o = self.owner(r)
        if not self.elastic:
            if n > self.pool.n_free:
                raise RuntimeError("static: out of KV blocks")
            self.pool.map(o, n)
            self.hold[r] += n
            return 0.0
        self.hold[r] += n
        g = self.p.gpu
        a = min(n, self.pool.n_pages(KVPOOL))
        if a:
            self.pool.transfer(KVPOOL, o, a)
        b = min(n - a, self.pool.n_free)
        if b:
            self.pool.map(o, b)
            self.maps += b
        lend = n - a - b
        cost = b * g.map_us * 1e-6
        if lend > 0:
            if self.rt_mapped() - lend < rt_keep:
                raise RuntimeError("elastic: lent runtime memory a step still needs")
            self.pool.transfer(RUNTIME, o, lend)
            self.maps += lend
            self.unmaps += lend
            self.event("lend", r, lend)
            cost += lend * (g.map_us + g.unmap_us) * 1e-6
        return cost

    def inflate(self, need: int) -> float:
        """Grow the runtime virtual tensor to ``need`` chunks: free chunks (map), then unused KV chunks (unmap + map)."""
        have = self.rt_mapped()
        if need <= have:
            return 0.0
        g = self.p.gpu
        b = min(need - have, self.pool.n_free)
        if b:
            self.pool.map(RUNTIME, b)
            self.maps += b
        a = min(need - have - b, self.pool.n_pages(KVPOOL))
        if a:
            self.pool.transfer(KVPOOL, RUNTIME, a)
            self.maps += a
            self.unmaps += a
        self.event("inflate", -1, a + b)
        return b * g.map_us * 1e-6 + a * (g.map_us + g.unmap_us) * 1e-6

    def drop_kv(self, r: int) -> float:
        """Free request r's KV pages. Elastic: they stay mapped in the KV tensor (no unmap call)."""
        if self.elastic:
            n = self.held(r)
            if n:
                self.pool.transfer(self.owner(r), KVPOOL, n)
        else:
            self.pool.release(self.owner(r))
        self.hold[r] = 0
        return 0.0

    def preempt(self, r: int) -> float:
        """Recompute preemption: drop the KV; prompt + generated tokens are prefilled again later."""
        cost = self.drop_kv(r)
        self.running.remove(r)
        self.ctx[r] = 0
        self.target[r] = self.prompt[r] + self.gen[r]
        self.state[r] = WAITING
        self.npre[r] += 1
        self.preemptions += 1
        self.waiting.appendleft(r)
        self.event("preempt", r)
        return cost

    def offload(self, r: int) -> float:
        """Move request r's KV pages to the CPU buffer (pages × chunk bytes over PCIe, plus unmaps)."""
        n = self.held(r)
        self.cpu.map(self.owner(r), n)
        cost = self.drop_kv(r) + n * self.p.chunk_bytes / self.p.gpu.pcie_bytes_per_s
        self.pcie_bytes += n * self.p.chunk_bytes
        self.running.remove(r)
        self.offloaded.append(r)
        self.state[r] = OFFLOADED
        self.offloads += 1
        self.event("offload", r, n)
        return cost

    # ---- scheduling ------------------------------------------------------------------------------
    def decoders(self) -> list[int]:
        if not self.running:
            return []
        run = np.asarray(self.running)
        return run[self.ctx[run] >= self.target[run]].tolist()

    def ensure_growth(self) -> float:
        """Give every decoder a slot for its next token; preempt (or offload) the newest when short."""
        cost = 0.0
        while True:
            dec = self.decoders()
            if not dec:
                return cost
            d = np.asarray(dec)
            need = np.maximum(0, self.pages_for(self.ctx[d] + 1) - self.hold[d])
            total = int(need.sum())
            rt_keep = self.rt_chunks(len(dec), len(dec)) if self.elastic else 0
            lendable = max(0, self.rt_mapped() - rt_keep)
            if total <= self.spare() + lendable:
                for r, g in zip(dec, need.tolist()):
                    if g > 0:
                        cost += self.take(r, g, rt_keep)
                return cost
            victim = self.running[-1]
            if self.elastic and self.ctx[victim] > 0 and self.cpu.n_free >= self.held(victim) and self.held(victim) > 0:
                cost += self.offload(victim)
            else:
                cost += self.preempt(victim)

    def reload(self, sched_tokens: int, sched_seqs: int) -> float:
        cost = 0.0
        while self.offloaded and len(self.running) < self.p.max_num_seqs:
            r = self.offloaded[0]
            need = int(self.pages_for(self.ctx[r] + 1))
            rt_need = self.rt_chunks(sched_tokens + 1, sched_seqs + 1)
            if need + rt_need > self.spare() + self.rt_mapped() - self.wm:
                break
            self.offloaded.pop(0)
            n = self.cpu.release(self.owner(r))
            cost += self.take(r, need, rt_need) + n * self.p.chunk_bytes / self.p.gpu.pcie_bytes_per_s
            self.pcie_bytes += n * self.p.chunk_bytes
            self.running.append(r)
            self.state[r] = RUNNING
            self.reloads += 1
            self.event("reload", r, n)
            if self.ctx[r] >= self.target[r]:
                sched_tokens += 1
                sched_seqs += 1
        return cost

    def fits(self, kv_need: int, tokens: int, seqs: int) -> bool:
        if self.elastic:
            return kv_need + self.rt_chunks(tokens, seqs) <= self.spare() + self.rt_mapped() - self.wm
        return kv_need <= self.pool.n_free - self.wm

    def feasible(self, r: int) -> bool:
        """Could request r ever run on an empty GPU (its prompt's KV plus one chunk of prefill)?"""
        kv = int(self.pages_for(self.target[r] + 1))
        if self.elastic:
            return kv + self.rt_chunks(min(self.chunk, self.budget), 1) <= self.cap - self.w_chunks - self.o_chunks - self.wm
        return kv <= self.n_blocks - self.wm

    def predicted_wait(self, shortfall: int) -> float:
        """Seconds until decoders finishing free ``shortfall`` pages (remaining tokens × current step time)."""
        dec = self.decoders()
        if not dec:
            return math.inf
        d = np.asarray(dec)
        rem = self.output[d] - self.gen[d]
        order = np.argsort(rem)
        freed = np.cumsum(self.hold[d[order]])
        k = int(np.searchsorted(freed, shortfall))
        if k >= len(d):
            return math.inf
        step = float(self.rf.decode_time(len(d), float(self.ctx[d].sum())))
        return float(rem[order[k]]) * step

    def slo_admit(self, r: int, kv_need: int, tokens: int, seqs: int) -> tuple[bool, float]:
        """The elastic policy's choice when even a chunked prefill does not fit: wait, offload or preempt."""
        p = self.p
        if self.gen[r] > 0:
            return False, 0.0  # a recompute waits its turn
        shortfall = kv_need + self.rt_chunks(tokens, seqs) - (self.spare() + self.rt_mapped() - self.wm)
        prefill = self.rf.prefill_time(int(self.target[r]), self.chunk)
        waited = self.now - self.arrival[r]
        if waited + self.predicted_wait(shortfall) + prefill <= self.ttft_target[r]:
            return False, 0.0  # waiting still meets the TTFT target
        victims, got = [], 0
        for v in reversed(self.running):  # newest first; only decoders that have produced tokens
            if got >= shortfall:
                break
            if np.isnan(self.first[v]) or self.ctx[v] < self.target[v]:
                continue
            victims.append(v)
            got += self.held(v)
        if got < shortfall or not victims:
            return False, 0.0
        nbytes = got * p.chunk_bytes
        options = []
        if self.cpu.n_free >= got:
            transfer = nbytes / p.gpu.pcie_bytes_per_s
            options.append(("offload", transfer, prefill + 2 * transfer))
        recompute = sum(self.rf.prefill_time(int(self.ctx[v]), self.chunk) for v in victims)
        options.append(("preempt", 0.0, prefill + recompute))
        dstep = float(self.rf.decode_time(max(1, len(self.decoders())), float(self.ctx[self.running].sum())))
        for kind, delay, pause in sorted(options, key=lambda o: o[2]):
            if waited + delay + prefill > self.ttft_target[r]:
                continue
            ok = True
            for v in victims:
                if self.output[v] <= 1:
                    continue
                left = self.output[v] - self.gen[v]
                tpot = (self.now - self.first[v] + pause + left * dstep) / (self.output[v] - 1)
                ok &= tpot <= p.tpot_slo_s
            if not ok:
                continue
            cost = 0.0
            for v in victims:
                cost += self.offload(v) if kind == "offload" else self.preempt(v)
            return True, cost
        return False, 0.0

    def schedule_prefills(self, n_dec: int) -> tuple[list[tuple[int, int]], float]:
        """Prefill work for this step: continuing prefills, then admissions in arrival order."""
        budget = self.budget - n_dec
        plan: list[tuple[int, int]] = []
        cost = 0.0
        tokens, seqs = n_dec, n_dec
        run = np.asarray(self.running, dtype=np.int64)
        for r in run[self.ctx[run] < self.target[run]].tolist() if len(run) else []:
            if budget <= 0:
                break
            left = int(self.target[r] - self.ctx[r])
            c = min(left, budget, int(self.req_chunk[r]) if self.elastic else left)
            if self.elastic:  # the runtime must still fit beside the KV as it is now
                room = (self.spare() + self.rt_mapped() - self.wm) * self.p.chunk_bytes
                c = min(c, int((room - (seqs + 1) * self.a_seq - self.p.workspace_bytes) // self.a_tok))
                if c <= 0:
                    continue
            plan.append((r, c))
            budget -= c
            tokens += c
            seqs += 1
        while self.waiting and budget > 0 and len(self.running) + len(self.offloaded) < self.p.max_num_seqs:
            r = self.waiting[0]
            if not self.feasible(r):
                self.waiting.popleft()
                self.state[r] = REJECTED
                self.rejected += 1
                self.event("reject", r)
                continue
            kv_need = int(self.pages_for(self.target[r]))
            full = min(int(self.target[r]), budget)
            if self.fits(kv_need, tokens + full, seqs + 1):
                c = full
                self.req_chunk[r] = self.budget
            elif self.elastic and self.fits(kv_need, tokens + min(full, self.chunk), seqs + 1):
                c = min(full, self.chunk)
                self.req_chunk[r] = self.chunk
                self.event("admit_chunked", r)
            elif self.elastic:
                self.waiting.popleft()  # victims preempted below queue up ahead of the others, not ahead of r
                ok, extra = self.slo_admit(r, kv_need, tokens + min(full, self.chunk), seqs + 1)
                self.waiting.appendleft(r)
                if not ok:
                    break
                # victims were preempted to the queue's front: put r back ahead of them
                self.waiting.remove(r)
                self.waiting.appendleft(r)
                cost += extra
                c = min(full, self.chunk)
                self.req_chunk[r] = self.chunk
            else:
                break
            self.waiting.popleft()
            cost += self.take(r, kv_need, self.rt_chunks(tokens + c, seqs + 1))
            self.running.append(r)
            self.state[r] = RUNNING
            plan.append((r, c))
            budget -= c
            tokens += c
            seqs += 1
        return plan, cost

    # ---- one step ----------------------------------------------------------------------------------
    def step(self) -> None:
        cost = self.ensure_growth()
        dec = self.decoders()
        if self.elastic and self.offloaded:
            cost += self.reload(len(dec), len(dec))
            dec = self.decoders()
        plan, c2 = self.schedule_prefills(len(dec))
        cost += c2
        self.admitted_now = len(self.running) + len(self.offloaded)
        d = np.asarray(dec, dtype=np.int64)
        n_pref = sum(c for _, c in plan)
        T = len(dec) + n_pref
        S = len(dec) + sum(1 for r, c in plan if self.ctx[r] + c >= self.target[r])
        if self.elastic:
            cost += self.inflate(self.rt_chunks(T, len(dec) + len(plan)))
        self.rt_active_bytes = float(self.activation(T, len(dec) + len(plan))) if T else 0.0
        if not plan and len(dec) and self.can_fast_forward():
            self.fast_forward(d, cost)
            return
        ctx_dec = float(self.ctx[d].sum()) if len(d) else 0.0
        pairs = ctx_dec + len(dec)
        kv_read = ctx_dec
        for r, c in plan:
            p0 = float(self.ctx[r])
            pairs += c * p0 + c * (c + 1) / 2
            kv_read += p0
        dt = float(self.rf.step_time(T, S, pairs, kv_read)) + cost if T else cost
        self.now += dt
        self.iters += 1
        if len(d):
            self.ctx[d] += 1
            self.gen[d] += 1
        for r, c in plan:
            self.ctx[r] += c
            if self.ctx[r] >= self.target[r]:
                self.gen[r] += 1
                if np.isnan(self.first[r]):
                    self.first[r] = self.now
        done_tokens = len(dec) + sum(1 for r, c in plan if self.ctx[r] >= self.target[r])
        self.complete()
        if self.elastic and n_pref:
            self.deflate()
        self.record(dt, 1, len(dec), n_pref, done_tokens)

    def deflate(self) -> None:
        """After a prefill step: the runtime memory beyond the next decode step's need becomes idle."""
        keep = self.rt_chunks(len(self.running), len(self.running))
        idle = self.rt_mapped() - keep
        if idle <= 0:
            return
        self.event("deflate", -1, idle)
        if self.p.deflate == "eager":
            self.pool.unmap(RUNTIME, idle)
            self.unmaps += idle
            self.now += idle * self.p.gpu.unmap_us * 1e-6

    def complete(self) -> None:
        if not self.running:
            return
        run = np.asarray(self.running)
        fin = run[self.gen[run] >= self.output[run]].tolist()
        for r in fin:
            self.running.remove(r)
            self.now += self.drop_kv(r)
            self.state[r] = DONE
            self.finish[r] = self.now

    def can_fast_forward(self) -> bool:
        """No running request is still prefilling (the tests turn this off to compare with single steps)."""
        run = np.asarray(self.running, dtype=np.int64)
        return not (len(run) and np.any(self.ctx[run] < self.target[run]))

    def fast_forward(self, d: np.ndarray, cost: float) -> None:
        """Advance K decode-only iterations at once (K ≥ 1), stopping before any event."""
        B = len(d)
        K = int((self.output[d] - self.gen[d]).min())
        K = min(K, 8192)
        held = self.hold[d].copy()

        # memory: pages for steps 2..K come from free chunks only (lending happens in single steps)
        def extra(k):
            return int((self.pages_for(self.ctx[d] + k) - held).sum())

        rt_keep = self.rt_chunks(B, B) if self.elastic else 0
        room = self.spare() + max(0, self.rt_mapped() - rt_keep)  # free, KV-mapped unused, idle runtime (lent)
        if K > 1 and extra(K) > room:
            lo, hi = 1, K  # extra(lo) <= room (0), extra(hi) > room
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if extra(mid) <= room:
                    lo = mid
                else:
                    hi = mid
            K = lo
        ctx0 = float(self.ctx[d].sum())
        ks = np.arange(K, dtype=float)
        times = self.rf.decode_time(B, ctx0 + B * ks)
        times[0] += cost
        if self.elastic and K > 1:
            # step k pays for the pages its token needs, as a single step would (and before the arrival cut below):
            # take's order makes the first P pages cost map_us·clip(P − kv_unused, 0, free) + (map_us + unmap_us)·(lent)
            # request r crosses into a new page at steps k ≥ 2 with (ctx_r + k − 1) mod tpp = 0: O(B + K), no B × K table
            g = self.p.gpu
            first = (-(self.ctx[d] + 1)) % self.tpp
            per_step = self.cpp * np.bincount(first, minlength=self.tpp)[np.arange(K - 1) % self.tpp]
            P = np.cumsum(np.r_[0, per_step])  # pages taken by the end of steps 1..K
            kv_unused, free = self.pool.n_pages(KVPOOL), self.pool.n_free
            paid = g.map_us * np.clip(P - kv_unused, 0, free) + (g.map_us + g.unmap_us) * np.maximum(0, P - kv_unused - free)
            times += 1e-6 * np.diff(np.r_[0.0, paid])
        cum = np.cumsum(times)
        if self.nxt < len(self.arrival) and K > 1:
            m = int(np.searchsorted(cum[:-1], self.arrival[self.nxt] - self.now, side="left"))
            K = min(K, 1 + m)
            cum = cum[:K]
        # map the pages steps 2..K need (what that costs is in the step times above)
        grow = self.pages_for(self.ctx[d] + K) - held
        for r, n in zip(d.tolist(), grow.tolist()):
            if n > 0:
                self.take(r, n, rt_keep)
        dt = float(cum[K - 1])
        self.now += dt
        self.iters += K
        self.ctx[d] += K
        self.gen[d] += K
        self.complete()
        self.record(dt, K, B, 0, B * K)

    # ---- recording -------------------------------------------------------------------------------
    def memory(self) -> dict[str, float]:
        C = self.p.chunk_bytes
        m = self.p.model
        if self.elastic:
            rt = self.rt_mapped() * C
            active = min(rt, self.rt_active_bytes)
            kvfree = self.pool.n_pages(KVPOOL)
            kv = (self.pool.n_chunks - self.pool.n_free - self.w_chunks - self.o_chunks - self.rt_mapped() - kvfree) * C
            return dict(
                weights=self.w_chunks * C,  # whole chunks, as they sit in the pool
                overhead=self.o_chunks * C,
                runtime_active=active,
                runtime_idle=rt - active,
                kv_used=kv,
                kv_free=kvfree * C,
                free=self.pool.n_free * C,
                cpu_kv=(self.cpu.n_chunks - self.cpu.n_free) * C,
            )
        used = (self.pool.n_chunks - self.pool.n_free) * self.unit_bytes
        active = min(self.reserve_bytes, self.rt_active_bytes)
        total_kv = self.pool.n_chunks * self.unit_bytes
        rest = self.cap_bytes - m.weight_bytes - self.p.overhead_bytes - self.reserve_bytes - total_kv
        return dict(
            weights=m.weight_bytes,
            overhead=self.p.overhead_bytes,
            runtime_active=active,
            runtime_idle=self.reserve_bytes - active,
            kv_used=used,
            kv_free=total_kv - used,
            free=rest,
            cpu_kv=0.0,
        )

    def record(self, dt: float, n_iter: int, batch: int, n_pref: int, n_dec_tokens: int) -> None:
        R = self.recs
        R["t"].append(self.now)
        R["dt"].append(dt)
        R["n_iter"].append(n_iter)
        R["batch"].append(batch)
        R["admitted"].append(self.admitted_now)
        R["prefill_tokens"].append(n_pref)
        R["decode_tokens"].append(n_dec_tokens)
        for k, v in self.memory().items():
            R[k].append(v)
        if self.p.n_frames and self.now >= self.next_frame:
            self.add_frame()
            self.next_frame = self.now + self.frame_dt
            if len(self.frames) > 2 * self.p.n_frames:
                self.frames, self.cpu_frames, self.frame_t = self.frames[::2], self.cpu_frames[::2], self.frame_t[::2]
                self.frame_dt *= 2

    def add_frame(self) -> None:
        """Keep the GPU and CPU chunk maps as they are now."""
        self.frames.append(self.chunk_map())
        self.cpu_frames.append(self.cpu_map())
        self.frame_t.append(self.now)

    def chunk_map(self) -> np.ndarray:
        """Owner code of every GPU chunk (FREE_C, WEIGHTS_C, ..., KV0 + request % 240)."""
        codes = np.full(self.n_total, BEYOND_C, dtype=np.uint8)
        if self.elastic:
            own = self.pool.owner
            c = np.where(own >= OWNER0, KV0 + (own - OWNER0) % 240, FREE_C).astype(np.uint8)
            c[own == WEIGHTS] = WEIGHTS_C
            c[own == OVERHEAD] = OVERHEAD_C
            c[own == KVPOOL] = KVFREE_C
            rt = self.pool.pages(RUNTIME)
            if len(rt):
                n_act = int(_ceil_div(int(self.rt_active_bytes), self.p.chunk_bytes))
                c[rt] = RT_IDLE_C
                c[rt[:n_act]] = RT_ACTIVE_C
            codes[: self.cap] = c
            return codes
        w, o, r = self.w_chunks, self.o_chunks, self.r_chunks
        codes[:w] = WEIGHTS_C
        codes[w : w + o] = OVERHEAD_C
        n_act = min(r, int(_ceil_div(int(self.rt_active_bytes), self.p.chunk_bytes)))
        codes[w + o : w + o + r] = RT_IDLE_C
        codes[w + o : w + o + n_act] = RT_ACTIVE_C
        start = w + o + r
        kv_cells = max(0, self.cap - start)
        codes[start : self.cap] = FREE_C
        if self.n_blocks and kv_cells:
            own = self.pool.owner
            cell = (np.arange(self.n_blocks) * self.unit_bytes // self.p.chunk_bytes).astype(np.int64)
            cell = np.minimum(cell, kv_cells - 1)
            vals = np.where(own >= 0, KV0 + own % 240, KVFREE_C).astype(np.uint8)
            codes[start + cell] = vals  # later blocks in a cell win; exact when a block is one chunk
        return codes

    def cpu_map(self) -> np.ndarray:
        own = self.cpu.owner
        return np.where(own >= OWNER0, KV0 + (own - OWNER0) % 240, FREE_C).astype(np.uint8)

    # ---- the run -----------------------------------------------------------------------------------
    def run(self) -> Iterator[float]:
        """Simulate to the end; yields the fraction of requests finished now and then (for progress)."""
        n = len(self.arrival)
        last_yield = time.monotonic()
        tick = 0
        while True:
            while self.nxt < n and self.arrival[self.nxt] <= self.now:
                self.waiting.append(self.nxt)
                self.nxt += 1
            if not self.running and not self.offloaded and not self.waiting:
                if self.nxt >= n:
                    break
                self.now = float(self.arrival[self.nxt])
                continue
            before = (self.iters, len(self.running), len(self.waiting), len(self.offloaded))
            self.step()
            if (self.iters, len(self.running), len(self.waiting), len(self.offloaded)) == before and not self.running:
                # nothing can run and nothing runs: the head can never be admitted
                r = self.waiting.popleft()
                self.state[r] = REJECTED
                self.rejected += 1
                self.event("reject", r)
            tick += 1
            if tick % 64 == 0 and time.monotonic() - last_yield > 0.1:
                last_yield = time.monotonic()
                yield float(np.count_nonzero(self.state >= DONE)) / max(1, n)
        if self.p.n_frames:
            self.add_frame()

    def result(self) -> PolicyRun:
        out = self.output
        ttft = self.first - self.arrival
        tpot = np.where(out > 1, (self.finish - self.first) / np.maximum(out - 1, 1), np.nan)
        e2e = self.finish - self.arrival
        done = self.state == DONE
        makespan = float(np.nanmax(self.finish)) if done.any() else 0.0
        rec = {k: np.asarray(v, dtype=float) for k, v in self.recs.items()}
        good = done & (ttft <= self.ttft_target) & ((tpot <= self.p.tpot_slo_s) | (out <= 1))
        tokens = float(out[done].sum())
        ev = {k: np.asarray(v) for k, v in self.ev.items()}

        def pct(x, q):
            x = x[np.isfinite(x)]
            return float(np.percentile(x, q)) if len(x) else float("nan")

        stats = dict(
            decode_tokens_per_s=tokens / makespan if makespan > 0 else 0.0,
            goodput_rps=float(good.sum()) / makespan if makespan > 0 else 0.0,
            max_batch=int(rec["batch"].max()) if len(rec["batch"]) else 0,
            max_admitted=int(rec["admitted"].max()) if len(rec["admitted"]) else 0,
            mean_batch=float(np.average(rec["batch"], weights=rec["dt"])) if rec["dt"].sum() > 0 else 0.0,
            preemptions=self.preemptions,
            offloads=self.offloads,
            reloads=self.reloads,
            rejected=self.rejected,
            chunk_maps=self.maps,
            chunk_unmaps=self.unmaps,
            lends=int(ev["n"][ev["kind"] == EVENT_KINDS.index("lend")].sum()) if len(ev["kind"]) else 0,
            pcie_gib=self.pcie_bytes / 2**30,
            ttft_p50_s=pct(ttft, 50),
            ttft_p99_s=pct(ttft, 99),
            tpot_p50_s=pct(tpot, 50),
            tpot_p99_s=pct(tpot, 99),
            e2e_p50_s=pct(e2e, 50),
            makespan_s=makespan,
            iterations=self.iters,
            finished=int(done.sum()),
            slo_attainment=float(good.sum()) / max(1, len(out)),
            kv_capacity_tokens=int(self.kv_capacity_tokens()),
            static_reserve_gib=self.reserve_bytes / 2**30,
        )
        layout = dict(
            n_chunks=self.n_total,
            cap_chunks=self.cap,
            weight_chunks=self.w_chunks,
            overhead_chunks=self.o_chunks,
            cpu_chunks=self.cpu.n_chunks,
            reserve_chunks=0 if self.elastic else self.r_chunks,
        )
        return PolicyRun(
            self.policy,
            ttft,
            tpot,
            e2e,
            self.state.copy(),
            self.npre.copy(),
            rec,
            np.array(self.frames, dtype=np.uint8),
            np.asarray(self.frame_t),
            np.array(self.cpu_frames, dtype=np.uint8),
            ev,
            stats,
            layout,
            self.oplog or [],
        )

    def kv_capacity_tokens(self) -> int:
        """Tokens of KV the GPU can hold with no runtime inflated (static: the block pool)."""
        if self.elastic:
            return int((self.cap - self.w_chunks - self.o_chunks) // self.cpp * self.tpp)
        return int(self.n_blocks * self.tpp)


def simulate(policy: str, p: SimParams, trace: Trace) -> Iterator[float | PolicyRun]:
    """Yields progress fractions, then the PolicyRun."""
    sim = Simulator(policy, p, trace)
    yield from sim.run()
    yield sim.result()
