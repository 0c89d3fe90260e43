"""The two memory policies behind one interface: where weights, runtime (activation) memory and KV pages live.

Both share the cap ``util × GPU memory``, the weights and the overhead (CUDA context, graphs):

- ``StaticMemory`` (vLLM-faithful): at start-up a profiling run reserves ``A(budget tokens, max_num_seqs)`` for
  activations, outside any pool; KV blocks of ``block_tokens`` tokens fill what is left under the cap. Taking
  or freeing a block costs nothing (the blocks are pre-allocated), so nothing here ever costs time.
- ``ElasticMemory`` (eLLM): one pool of 2 MiB chunks under the cap holds the weights, the overhead, a runtime
  (activation) virtual tensor and KV pages. At start-up every chunk left is mapped into the KV virtual tensor
  (owner ``KV_UNUSED``: mapped, holding no request's KV), as vLLM pre-allocates its KV cache, so steady-state
  KV allocation needs no map call. The runtime is *inflated* before a step that needs more than it has (free
  chunks first, then unused KV chunks: unmap + map) and *deflated* after a prefill step (the chunks beyond the
  next decode step's need become idle; ``deflate="eager"`` unmaps them at once, ``"lazy"`` leaves them mapped
  until KV growth borrows them). A request's KV comes from unused KV chunks (no call), then free chunks (a map
  each), then idle runtime chunks (lent: unmap + map each). Every map/unmap costs ``map_us``/``unmap_us``;
  offloaded KV crosses PCIe at ``pcie_bytes_per_s`` into a CPU buffer of chunks.

Both count memory in *pages*, the unit of their pool: a KV block (static) or a 2 MiB chunk (elastic). A
request with t tokens of KV holds ``pages_for(t)`` pages: whole groups of ``pages_per_group`` pages holding
``tokens_per_group`` tokens (one page holds many tokens, or one token spans several pages when a token's KV
exceeds a chunk).

The interface the scheduler uses; the same names and meanings for both policies (a cost is in seconds, added
to the step in which it is paid):

- ``take(r, n, runtime_keep)``: n more KV pages for request r (``runtime_keep``: runtime chunks the step still
  needs, never lent); returns the cost. ``take_each(requests, counts, runtime_keep, cost)``: the same for many
  requests in order (a decode step's growth), as one pool operation where the takes would cost nothing.
- ``free(r)``: request r's KV pages go back (elastic: they stay mapped in the KV tensor, no unmap call).
- ``fits(kv_pages, tokens, seqs)``: do those pages and the runtime memory of a step of ``tokens`` tokens over
  ``seqs`` sequences fit above the watermark? ``available()`` is that room; ``runtime_keep(tokens, seqs)``
  the runtime chunks such a step needs in the pool (static: none, its reserve lies outside).
- ``growth_room(runtime_keep)``: pages decoders may take without preempting anyone.
- ``feasible(kv_pages, first_chunk_tokens)``: could a request ever run, alone on the GPU?
- ``inflate(tokens, seqs)`` before a step, ``deflate(n_running)`` after a prefill step: the runtime's cost.
- ``can_offload(n)``, ``offload(r)``, ``restore(r, n, runtime_keep)``: KV pages to the CPU buffer and back
  (static has no buffer); ``(pages moved, cost)``.
- ``prefill_tokens_room(seqs)``: the most prefill tokens whose runtime fits beside the KV as it is now
  (``None``: no such limit, the static reserve was sized for a full budget).
- ``stretch_take_costs(kv_tokens, k)``: what taking the pages of k fast-forwarded decode steps costs, per step.
- ``memory(runtime_active_bytes)``: bytes per category (``CATEGORIES``, plus ``cpu_kv``);
  ``chunk_map(runtime_active_bytes)`` / ``cpu_map()``: an owner code per GPU / CPU chunk (``CODE_*``).

Invariants (``check()``, on top of each pool's own, ``pool.py``):

1. ``held[r]`` is the number of pages request r's page table holds on the GPU (the tally mirrors the pool);
2. the categories of ``memory()`` add up to the cap (elastic: its whole chunks; static: bytes);
3. static: weights + overhead + reserve + KV blocks fit under the cap (when there is a block at all);
   elastic: the weights and the overhead hold the chunks mapped at start-up, no more, no fewer;
4. only requests hold CPU pages (static: the CPU buffer is empty).
"""

from __future__ import annotations

import math

import numpy as np

from .params import SimParams
from .pool import ChunkPool

CATEGORIES = ("weights", "overhead", "runtime_active", "runtime_idle", "kv_used", "kv_free", "free")
# chunk-map cell codes; request r's KV cells are CODE_KV_REQUEST + (r % KV_HUES)
CODE_FREE, CODE_WEIGHTS, CODE_OVERHEAD, CODE_RUNTIME_ACTIVE, CODE_RUNTIME_IDLE, CODE_BEYOND_CAP, CODE_KV_UNUSED = range(7)
CODE_KV_REQUEST = 8
KV_HUES = 240
# owners in the elastic pool: the weights, overhead, runtime and KV virtual tensors; request r owns r + FIRST_REQUEST_OWNER
WEIGHTS, OVERHEAD, RUNTIME, KV_UNUSED = range(4)
FIRST_REQUEST_OWNER = 8


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _no_event(kind: str, request: int, n: int) -> None:
    pass


class MemoryPolicy:
    """What both policies share: the layout under the cap, the runtime-memory formula, the page arithmetic."""

    name = "memory"
    tokens_per_group = pages_per_group = 1
    page_bytes = 0
    capacity_pages = 0  # pages KV may ever hold (with no runtime inflated)
    watermark_pages = 0
    reserve_bytes = reserve_chunks = 0
    pool: ChunkPool
    cpu: ChunkPool

    def __init__(self, p: SimParams, n_requests: int):
        m = p.model
        C = p.chunk_bytes
        self.p = p
        self.chunk_bytes = C
        self.weight_bytes = m.weight_bytes
        self.overhead_bytes = p.overhead_bytes
        self.gpu_chunks = int(p.gpu.memory_bytes // C)
        self.cap_bytes = int(p.util * p.gpu.memory_bytes)
        self.cap_chunks = int(self.cap_bytes // C)
        self.weight_chunks = ceil_div(m.weight_bytes, C)
        self.overhead_chunks = ceil_div(p.overhead_bytes, C)
        self.activation_per_token = m.activation_bytes_per_token
        self.activation_per_seq = m.vocab_size * 8
        self.workspace_bytes = p.workspace_bytes
        if m.weight_bytes + p.overhead_bytes + 2 * C > self.cap_bytes:
            raise ValueError(
                f"gpu: {m.name} needs {m.weight_bytes / 2**30:.1f} GiB of weights per GPU, more than "
                f"{p.util:g} × {p.gpu.memory_bytes / 2**30:.0f} GiB leaves (allowed: a larger GPU or a higher utilization)"
            )
        self.held = np.zeros(n_requests, np.int64)  # KV pages each request holds on the GPU
        self.maps = self.unmaps = 0  # map/unmap calls charged to the run (the start-up mapping excluded)
        self.pcie_bytes = 0.0
        self.on_event = _no_event  # (kind, request, n): the scheduler binds it to its event log

    # ---- arithmetic --------------------------------------------------------------------------------
    def runtime_bytes(self, n_tokens, n_seqs):
        """``A(N, S) = N·b·(h + 3I/tp) + S·V·8 + workspace`` bytes (models.ModelSpec.activation_bytes)."""
        return n_tokens * self.activation_per_token + n_seqs * self.activation_per_seq + self.workspace_bytes

    def runtime_chunks(self, n_tokens, n_seqs) -> int:
        """Whole chunks of ``A(N, S)``; none for a step without tokens."""
        if n_tokens <= 0:
            return 0
        return -(-int(n_tokens * self.activation_per_token + n_seqs * self.activation_per_seq + self.workspace_bytes) // self.chunk_bytes)

    def pages_for(self, tokens):
        """Pages holding that many tokens of KV (arrays too)."""
        return -(-np.asarray(tokens) // self.tokens_per_group) * self.pages_per_group

    def pages_for_tokens(self, tokens: int) -> int:
        return ceil_div(int(tokens), self.tokens_per_group) * self.pages_per_group

    def owner(self, r: int) -> int:
        return r

    # ---- room --------------------------------------------------------------------------------------
    def spare(self) -> int:
        """Pages usable without touching the runtime."""
        return self.pool.n_free

    def runtime_mapped(self) -> int:
        """Runtime chunks mapped in the pool (static: none, its reserve lies outside)."""
        return 0

    def runtime_keep(self, n_tokens, n_seqs) -> int:
        return 0

    def available(self) -> int:
        """Pages for KV and runtime together above the watermark (mapped runtime chunks count: they can be reused)."""
        return self.spare() + self.runtime_mapped() - self.watermark_pages

    def fits(self, kv_pages: int, n_tokens, n_seqs) -> bool:
        return kv_pages + self.runtime_keep(n_tokens, n_seqs) <= self.available()

    def growth_room(self, runtime_keep: int) -> int:
        return self.spare() + max(0, self.runtime_mapped() - runtime_keep)

    def feasible(self, kv_pages: int, first_chunk_tokens: int) -> bool:
        return kv_pages + self.runtime_keep(first_chunk_tokens, 1) <= self.capacity_pages - self.watermark_pages

    def prefill_tokens_room(self, n_seqs: int) -> int | None:
        return None

    def kv_capacity_tokens(self) -> int:
        """Tokens of KV the GPU can hold with no runtime inflated."""
        return int(self.capacity_pages // self.pages_per_group * self.tokens_per_group)

    # ---- the CPU buffer ----------------------------------------------------------------------------
    def can_offload(self, n_pages: int) -> bool:
        return self.cpu.n_free >= n_pages

    def offload(self, r: int) -> tuple[int, float]:
        """Request r's KV pages to the CPU buffer: (pages, seconds over PCIe)."""
        n = int(self.held[r])
        self.cpu.map(self.owner(r), n)
        self.free(r)
        cost = n * self.chunk_bytes / self.p.gpu.pcie_bytes_per_s
        self.pcie_bytes += n * self.chunk_bytes
        return n, cost

    def restore(self, r: int, n_pages: int, runtime_keep: int) -> tuple[int, float]:
        """Request r's KV back from the CPU buffer into ``n_pages`` GPU pages: (CPU pages, seconds)."""
        n = self.cpu.release(self.owner(r))
        cost = self.take(r, n_pages, runtime_keep) + n * self.chunk_bytes / self.p.gpu.pcie_bytes_per_s
        self.pcie_bytes += n * self.chunk_bytes
        return n, cost

    def cpu_map(self) -> np.ndarray:
        own = self.cpu.owner
        if self.cpu.n_free == self.cpu.n_chunks:
            return np.full(len(own), CODE_FREE, dtype=np.uint8)  # an empty buffer (most of the time)
        return np.where(own >= FIRST_REQUEST_OWNER, CODE_KV_REQUEST + (own - FIRST_REQUEST_OWNER) % KV_HUES, CODE_FREE).astype(np.uint8)

    def take_each(self, requests: np.ndarray, counts: np.ndarray, runtime_keep: int, cost: float = 0.0) -> float:
        """``take(r, n, runtime_keep)`` for each distinct request with n > 0, in order; returns ``cost`` plus what
        each take costs, added one by one (the subclasses do the common case as one pool operation)."""
        for r, n in zip(requests.tolist(), counts.tolist()):
            if n > 0:
                cost += self.take(r, n, runtime_keep)
        return cost

    # ---- what subclasses define --------------------------------------------------------------------
    def take(self, r: int, n: int, runtime_keep: int) -> float:
        raise NotImplementedError

    def free(self, r: int) -> None:
        raise NotImplementedError

    def inflate(self, n_tokens, n_seqs) -> float:
        return 0.0

    def deflate(self, n_running: int) -> float:
        return 0.0

    def stretch_take_costs(self, kv_tokens: np.ndarray, n_steps: int) -> np.ndarray | None:
        return None

    def memory(self, runtime_active_bytes: float) -> dict[str, float]:
        raise NotImplementedError

    def chunk_map(self, runtime_active_bytes: float) -> np.ndarray:
        raise NotImplementedError

    def layout(self) -> dict:
        return dict(
            n_chunks=self.gpu_chunks,
            cap_chunks=self.cap_chunks,
            weight_chunks=self.weight_chunks,
            overhead_chunks=self.overhead_chunks,
            cpu_chunks=self.cpu.n_chunks,
            reserve_chunks=self.reserve_chunks,
        )

    # ---- invariants --------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise AssertionError if an invariant (module docstring) is broken."""
        for r in range(len(self.held)):
            assert self.held[r] == self.pool.n_pages(self.owner(r)), f"request {r}: tally {self.held[r]}"
        self.pool.check()
        self.cpu.check()
        assert all(o >= FIRST_REQUEST_OWNER for o in self.cpu.owners()), "a CPU page belongs to no request"
        total = sum(v for k, v in self.memory(0.0).items() if k != "cpu_kv")
        assert abs(total - self.counted_cap()) <= 1e-6 * self.cap_bytes, f"the categories add up to {total}, not the cap"

    def counted_cap(self) -> float:
        return float(self.cap_bytes)


class StaticMemory(MemoryPolicy):
    """vLLM's static partitioning: a profiled runtime reserve, then a pool of KV blocks; nothing costs time."""

    name = "static"

    def __init__(self, p: SimParams, n_requests: int, budget_tokens: int, log: list | None = None):
        super().__init__(p, n_requests)
        self.tokens_per_group, self.pages_per_group = p.block_tokens, 1
        self.page_bytes = p.block_tokens * p.model.kv_bytes_per_token
        self.reserve_bytes = int(self.runtime_bytes(budget_tokens, p.max_num_seqs))
        kv_bytes = self.cap_bytes - self.weight_bytes - p.overhead_bytes - self.reserve_bytes
        self.n_blocks = max(0, int(kv_bytes // self.page_bytes))
        self.capacity_pages = self.n_blocks
        self.pool = ChunkPool(self.n_blocks, self.page_bytes, log=log)
        self.watermark_pages = int(math.ceil(p.watermark * self.n_blocks))
        self.cpu = ChunkPool(0, self.chunk_bytes)
        self.reserve_chunks = ceil_div(self.reserve_bytes, self.chunk_bytes)

    def take(self, r: int, n: int, runtime_keep: int) -> float:
        if n <= 0:
            return 0.0
        if n > self.pool.n_free:
            raise RuntimeError("static: out of KV blocks")
        self.pool.map(r, n)
        self.held[r] += n
        return 0.0

    def take_each(self, requests: np.ndarray, counts: np.ndarray, runtime_keep: int, cost: float = 0.0) -> float:
        grow = counts > 0
        rs, ns = requests[grow], counts[grow]
        if int(ns.sum()) > self.pool.n_free:
            return super().take_each(rs, ns, runtime_keep, cost)  # refused at the first request that does not fit
        self.pool.map_each(rs.tolist(), ns.tolist())  # a block costs nothing: cost stays as it was
        self.held[rs] += ns
        return cost

    def free(self, r: int) -> None:
        self.pool.release(r)
        self.held[r] = 0

    def can_offload(self, n_pages: int) -> bool:
        return False

    def memory(self, runtime_active_bytes: float) -> dict[str, float]:
        used = (self.pool.n_chunks - self.pool.n_free) * self.page_bytes
        active = min(self.reserve_bytes, runtime_active_bytes)
        total_kv = self.pool.n_chunks * self.page_bytes
        rest = self.cap_bytes - self.weight_bytes - self.overhead_bytes - self.reserve_bytes - total_kv
        return dict(
            weights=self.weight_bytes,
            overhead=self.overhead_bytes,
            runtime_active=active,
            runtime_idle=self.reserve_bytes - active,
            kv_used=used,
            kv_free=total_kv - used,
            free=rest,
            cpu_kv=0.0,
        )

    def chunk_map(self, runtime_active_bytes: float) -> np.ndarray:
        """Weights, overhead, the reserve (active part first), then the KV blocks drawn into the chunks they span."""
        C = self.chunk_bytes
        codes = np.full(self.gpu_chunks, CODE_BEYOND_CAP, dtype=np.uint8)
        w, o, r = self.weight_chunks, self.overhead_chunks, self.reserve_chunks
        codes[:w] = CODE_WEIGHTS
        codes[w : w + o] = CODE_OVERHEAD
        n_active = min(r, ceil_div(int(runtime_active_bytes), C))
        codes[w + o : w + o + r] = CODE_RUNTIME_IDLE
        codes[w + o : w + o + n_active] = CODE_RUNTIME_ACTIVE
        start = w + o + r
        kv_cells = max(0, self.cap_chunks - start)
        codes[start : self.cap_chunks] = CODE_FREE
        if self.n_blocks and kv_cells:
            own = self.pool.owner
            cell = (np.arange(self.n_blocks) * self.page_bytes // C).astype(np.int64)
            cell = np.minimum(cell, kv_cells - 1)
            vals = np.where(own >= 0, CODE_KV_REQUEST + own % KV_HUES, CODE_KV_UNUSED).astype(np.uint8)
            codes[start + cell] = vals  # later blocks in a cell win; exact when a block is one chunk
        return codes

    def check(self) -> None:
        super().check()
        assert len(self.cpu.owners()) == 0, "the static policy has no CPU buffer"
        used = self.weight_bytes + self.overhead_bytes + self.reserve_bytes + self.n_blocks * self.page_bytes
        assert self.n_blocks == 0 or used <= self.cap_bytes, "the KV blocks overflow the cap"


class ElasticMemory(MemoryPolicy):
    """eLLM's elastic memory: one chunk pool under the cap; runtime and KV lend each other chunks."""

    name = "elastic"

    def __init__(self, p: SimParams, n_requests: int, log: list | None = None):
        super().__init__(p, n_requests)
        C = self.chunk_bytes
        kv_token = p.model.kv_bytes_per_token
        self.page_bytes = C
        self.tokens_per_group = max(1, C // kv_token)
        self.pages_per_group = max(1, ceil_div(kv_token, C))
        self.pool = ChunkPool(self.cap_chunks, C, log=log)
        self.pool.map(WEIGHTS, self.weight_chunks)
        self.pool.map(OVERHEAD, self.overhead_chunks)
        self.pool.map(KV_UNUSED, self.pool.n_free)
        self.capacity_pages = self.cap_chunks - self.weight_chunks - self.overhead_chunks
        self.watermark_pages = int(math.ceil(p.watermark * self.capacity_pages))
        self.cpu = ChunkPool(int(p.cpu_buffer_bytes // C), C)
        self.eager_deflate = p.deflate == "eager"
        # the chunk-map code of every owner, indexed by owner + 1: free, the four tensors, then the requests
        self.owner_codes = np.full(FIRST_REQUEST_OWNER + n_requests + 1, CODE_FREE, dtype=np.uint8)
        self.owner_codes[1 + np.array([WEIGHTS, OVERHEAD, KV_UNUSED])] = [CODE_WEIGHTS, CODE_OVERHEAD, CODE_KV_UNUSED]
        self.owner_codes[1 + FIRST_REQUEST_OWNER :] = CODE_KV_REQUEST + np.arange(n_requests) % KV_HUES

    def owner(self, r: int) -> int:
        return r + FIRST_REQUEST_OWNER

    def spare(self) -> int:
        """Unmapped free chunks plus chunks mapped in the KV tensor that hold no request's KV."""
        unused = self.pool.tables.get(KV_UNUSED)  # pool.n_pages, inlined: asked several times a step
        return self.pool.n_free + (len(unused) if unused else 0)

    def runtime_mapped(self) -> int:
        runtime = self.pool.tables.get(RUNTIME)
        return len(runtime) if runtime else 0

    def runtime_keep(self, n_tokens, n_seqs) -> int:
        return self.runtime_chunks(n_tokens, n_seqs)

    def prefill_tokens_room(self, n_seqs: int) -> int:
        room = self.available() * self.chunk_bytes
        return int((room - n_seqs * self.activation_per_seq - self.p.workspace_bytes) // self.activation_per_token)

    def take(self, r: int, n: int, runtime_keep: int) -> float:
        """Unused KV chunks first (no call: vAttention-style deferred reclamation), then free chunks (a map
        each), then idle runtime chunks (lent: an unmap and a map each)."""
        if n <= 0:
            return 0.0
        owner = self.owner(r)
        self.held[r] += n
        g = self.p.gpu
        unused = min(n, self.pool.n_pages(KV_UNUSED))
        if unused:
            self.pool.transfer(KV_UNUSED, owner, unused)
        fresh = min(n - unused, self.pool.n_free)
        if fresh:
            self.pool.map(owner, fresh)
            self.maps += fresh
        lend = n - unused - fresh
        cost = fresh * g.map_us * 1e-6
        if lend > 0:
            if self.runtime_mapped() - lend < runtime_keep:
                raise RuntimeError("elastic: lent runtime memory a step still needs")
            self.pool.transfer(RUNTIME, owner, lend)
            self.maps += lend
            self.unmaps += lend
            self.on_event("lend", r, lend)
            cost += lend * (g.map_us + g.unmap_us) * 1e-6
        return cost

    def take_each(self, requests: np.ndarray, counts: np.ndarray, runtime_keep: int, cost: float = 0.0) -> float:
        grow = counts > 0
        rs, ns = requests[grow], counts[grow]
        # the first requests whose pages all come from unused KV chunks, as their takes would take them (no call,
        # nothing to pay), in one operation; from the first that needs a map or a lend on, one take each
        unused = self.pool.n_pages(KV_UNUSED)
        n_unused = len(rs) if int(ns.sum()) <= unused else int(np.searchsorted(np.cumsum(ns), unused, side="right"))
        if n_unused:
            self.pool.transfer_each(KV_UNUSED, (rs[:n_unused] + FIRST_REQUEST_OWNER).tolist(), ns[:n_unused].tolist())
            self.held[rs[:n_unused]] += ns[:n_unused]
        if n_unused < len(rs):
            cost = super().take_each(rs[n_unused:], ns[n_unused:], runtime_keep, cost)
        return cost

    def free(self, r: int) -> None:
        n = int(self.held[r])
        if n:
            self.pool.transfer(self.owner(r), KV_UNUSED, n)
        self.held[r] = 0

    def inflate(self, n_tokens, n_seqs) -> float:
        """Grow the runtime tensor to a step's need: free chunks (map), then unused KV chunks (unmap + map)."""
        need = self.runtime_chunks(n_tokens, n_seqs)
        have = self.runtime_mapped()
        if need <= have:
            return 0.0
        g = self.p.gpu
        fresh = min(need - have, self.pool.n_free)
        if fresh:
            self.pool.map(RUNTIME, fresh)
            self.maps += fresh
        borrowed = min(need - have - fresh, self.pool.n_pages(KV_UNUSED))
        if borrowed:
            self.pool.transfer(KV_UNUSED, RUNTIME, borrowed)
            self.maps += borrowed
            self.unmaps += borrowed
        self.on_event("inflate", -1, borrowed + fresh)
        return fresh * g.map_us * 1e-6 + borrowed * (g.map_us + g.unmap_us) * 1e-6

    def deflate(self, n_running: int) -> float:
        """After a prefill step: the runtime beyond the next decode step's need becomes idle (eager: unmapped)."""
        keep = self.runtime_chunks(n_running, n_running)
        idle = self.runtime_mapped() - keep
        if idle <= 0:
            return 0.0
        self.on_event("deflate", -1, idle)
        if not self.eager_deflate:
            return 0.0
        self.pool.unmap(RUNTIME, idle)
        self.unmaps += idle
        return idle * self.p.gpu.unmap_us * 1e-6

    def stretch_take_costs(self, kv_tokens: np.ndarray, n_steps: int) -> np.ndarray | None:
        """Step k of a fast-forwarded stretch pays for the pages its tokens need, as a single step would.

        ``take``'s order makes the first P pages cost ``map_us·clip(P − unused, 0, free) + (map_us + unmap_us)·lent``;
        a request crosses into a new page group at steps k ≥ 2 with ``(kv_tokens + k − 1) mod tokens_per_group = 0``:
        O(B + K), no B × K table. Element 0 (the stretch's first step, paid by ``take`` already) is 0; None: nothing to pay.
        """
        g = self.p.gpu
        tpg = self.tokens_per_group
        unused, free = self.pool.n_pages(KV_UNUSED), self.pool.n_free
        if len(kv_tokens) * self.pages_per_group * ceil_div(n_steps - 1, tpg) <= unused:
            return None  # each request enters at most ⌈(K−1)/tpg⌉ new groups in steps 2..K: all from unused KV, free
        first = (-(kv_tokens + 1)) % tpg
        crossings = np.where(first <= n_steps - 2, (n_steps - 2 - first) // tpg + 1, 0)  # new groups per request
        if self.pages_per_group * int(crossings.sum()) <= unused:
            return None  # every page of the stretch comes from unused KV chunks: nothing to pay
        per_step = self.pages_per_group * np.bincount(first, minlength=tpg)[np.arange(n_steps - 1) % tpg]
        pages = np.zeros(n_steps, dtype=np.int64)  # pages taken by the end of steps 1..K
        np.cumsum(per_step, out=pages[1:])
        paid = g.map_us * np.clip(pages - unused, 0, free) + (g.map_us + g.unmap_us) * np.maximum(0, pages - unused - free)
        return 1e-6 * np.diff(paid, prepend=0.0)

    def memory(self, runtime_active_bytes: float) -> dict[str, float]:
        C, pool = self.chunk_bytes, self.pool
        runtime_chunks = pool.n_pages(RUNTIME)
        runtime = runtime_chunks * C
        active = min(runtime, runtime_active_bytes)
        unused = pool.n_pages(KV_UNUSED)
        kv = (pool.n_chunks - pool.n_free - self.weight_chunks - self.overhead_chunks - runtime_chunks - unused) * C
        return dict(
            weights=self.weight_chunks * C,  # whole chunks, as they sit in the pool
            overhead=self.overhead_chunks * C,
            runtime_active=active,
            runtime_idle=runtime - active,
            kv_used=kv,
            kv_free=unused * C,
            free=pool.n_free * C,
            cpu_kv=(self.cpu.n_chunks - self.cpu.n_free) * C,
        )

    def chunk_map(self, runtime_active_bytes: float) -> np.ndarray:
        """The owner of every chunk; the runtime tensor's first chunks are the active ones."""
        codes = np.full(self.gpu_chunks, CODE_BEYOND_CAP, dtype=np.uint8)
        c = self.owner_codes[self.pool.owner + 1]  # owner FREE (-1) is row 0
        runtime = self.pool.pages(RUNTIME)
        if len(runtime):
            n_active = ceil_div(int(runtime_active_bytes), self.chunk_bytes)
            c[runtime] = CODE_RUNTIME_IDLE
            c[runtime[:n_active]] = CODE_RUNTIME_ACTIVE
        codes[: self.cap_chunks] = c
        return codes

    def counted_cap(self) -> float:
        return float(self.cap_chunks * self.chunk_bytes)

    def check(self) -> None:
        super().check()
        assert self.pool.n_pages(WEIGHTS) == self.weight_chunks, "the weights tensor changed size"
        assert self.pool.n_pages(OVERHEAD) == self.overhead_chunks, "the overhead tensor changed size"
