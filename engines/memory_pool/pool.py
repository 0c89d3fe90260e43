"""A pool of fixed-size physical chunks behind virtual tensors (page tables), optionally backed by real memory.

The design follows CUDA virtual memory management as eLLM uses it: physical memory is cut into
2 MiB chunks created once; a *virtual tensor* is a reserved address range whose page table maps its
virtual pages, in order, to physical chunks; mapping/unmapping a chunk is the unit of cost.

Invariants (``check()``; the property-based tests drive random operation sequences through them):

1. every chunk has exactly one owner or is free (``owner[c] == FREE``);
2. the free list holds exactly the free chunks, each once;
3. each owner's page table lists exactly the chunks whose ``owner`` is that owner, each once;
4. ``free + Σ pages = n_chunks``: nothing leaks.

``ArenaPool`` adds an arena tensor (``n_chunks × chunk_elems``) on a torch device; a virtual tensor
reads and writes through its page table (a gather/scatter over chunk rows), so a KV cache stored in
the pool can feed paged attention exactly as a contiguous tensor would.
"""

from __future__ import annotations

import numpy as np

FREE = -1


class PoolError(RuntimeError):
    """An operation the pool cannot honour (out of chunks, unknown owner, bad page)."""


class ChunkPool:
    """Physical chunks, an owner per chunk, a LIFO free list, one page table per owner.

    The free list hands out the lowest-numbered chunks first and reuses the most recently freed.
    ``maps``/``unmaps`` count page-table operations (the cost unit of the elastic policy); an optional
    ``log`` records ``(time, action, owner, chunk ids)`` for the memory-snapshot export.
    """

    def __init__(self, n_chunks: int, chunk_bytes: int = 2 << 20, log: list | None = None):
        if n_chunks < 0:
            raise PoolError("n_chunks must be >= 0")
        self.n_chunks = int(n_chunks)
        self.chunk_bytes = int(chunk_bytes)
        self.owner = np.full(self.n_chunks, FREE, dtype=np.int64)
        self._free = np.arange(self.n_chunks - 1, -1, -1, dtype=np.int64)  # stack: top = end = lowest id
        self._n_free = self.n_chunks
        self.tables: dict[int, list[int]] = {}
        self.maps = 0
        self.unmaps = 0
        self.log = log
        self.now = 0.0

    # ---- queries -------------------------------------------------------------------------------
    @property
    def n_free(self) -> int:
        return self._n_free

    def n_pages(self, owner: int) -> int:
        t = self.tables.get(owner)
        return 0 if t is None else len(t)

    def pages(self, owner: int) -> np.ndarray:
        return np.asarray(self.tables.get(owner, ()), dtype=np.int64)

    def owners(self) -> list[int]:
        return list(self.tables)

    # ---- operations ----------------------------------------------------------------------------
    def map(self, owner: int, n: int) -> np.ndarray:
        """Append ``n`` free chunks to ``owner``'s page table; PoolError if fewer are free."""
        if owner < 0:
            raise PoolError(f"owner ids are >= 0, got {owner}")
        if n < 0 or n > self._n_free:
            raise PoolError(f"map {n} chunks for owner {owner}: only {self._n_free} free")
        ids = self._free[self._n_free - n : self._n_free][::-1].copy()
        if n == 0:
            return ids  # no empty page table for an owner that maps nothing
        self._n_free -= n
        self.owner[ids] = owner
        self.tables.setdefault(owner, []).extend(ids.tolist())
        self.maps += n
        if self.log is not None:
            self.log.append((self.now, "map", owner, ids))
        return ids

    def unmap(self, owner: int, n: int) -> np.ndarray:
        """Unmap the last ``n`` pages of ``owner`` and return their chunks to the free list."""
        table = self.tables.get(owner)
        if table is None or n < 0 or n > len(table):
            raise PoolError(f"unmap {n} pages of owner {owner}: it holds {self.n_pages(owner)}")
        if n == 0:
            return np.empty(0, dtype=np.int64)
        ids = np.asarray(table[len(table) - n :], dtype=np.int64)
        del table[len(table) - n :]
        if not table:
            del self.tables[owner]
        self._push_free(ids)
        self.unmaps += n
        if self.log is not None:
            self.log.append((self.now, "unmap", owner, ids))
        return ids

    def release(self, owner: int) -> int:
        """Unmap every page of ``owner``; returns how many."""
        n = self.n_pages(owner)
        if n:
            self.unmap(owner, n)
        return n

    def transfer(self, src: int, dst: int, n: int) -> np.ndarray:
        """Lend the last ``n`` chunks of ``src`` to ``dst``: unmapped there, mapped here (same physical chunks)."""
        if dst < 0:  # refuse before unmapping: a refused transfer leaves the pool untouched
            raise PoolError(f"owner ids are >= 0, got {dst}")
        table = self.tables.get(src)
        if table is None or n < 0 or n > len(table):
            raise PoolError(f"unmap {n} pages of owner {src}: it holds {self.n_pages(src)}")
        if n == 0:
            return np.empty(0, dtype=np.int64)
        # an unmap then a map of the same chunks, in one move: the last n pages of src, in order, become the last
        # n pages of dst (the free list is left as it was: unmap would push them on top, map would pop them again)
        if n == len(table):
            moved = self.tables.pop(src)  # the whole table moves (a request's KV going back): no copy
        else:
            moved = table[len(table) - n :]
            del table[len(table) - n :]
        ids = np.asarray(moved, dtype=np.int64)
        self.owner[ids] = dst
        self.tables.setdefault(dst, []).extend(moved)
        self.unmaps += n
        self.maps += n
        if self.log is not None:
            self.log.append((self.now, "transfer", (src, dst), ids))
        return ids

    # ---- several owners at once (a decode step gives one page each to many requests) ------------------------
    def map_each(self, owners: list[int], counts: list[int]) -> None:
        """``map(o, n)`` for each pair in order, as one operation: the same chunks, tables and counters."""
        total = sum(counts)
        if self.log is not None or total > self._n_free or min(owners, default=0) < 0 or min(counts, default=0) < 0:
            for o, n in zip(owners, counts):
                self.map(o, n)
            return
        # the chunks sequential maps would pop, in popping order: owner i gets the next counts[i] of them
        ids = self._free[self._n_free - total : self._n_free][::-1].copy()
        self._n_free -= total
        self.owner[ids] = np.repeat(np.asarray(owners, dtype=np.int64), counts)
        flat = ids.tolist()
        pos = 0
        for o, n in zip(owners, counts):
            if n:
                self.tables.setdefault(o, []).extend(flat[pos : pos + n])
                pos += n
        self.maps += total

    def transfer_each(self, src: int, owners: list[int], counts: list[int]) -> None:
        """``transfer(src, o, n)`` for each pair in order, as one operation: the same chunks, tables and counters."""
        table = self.tables.get(src)
        total = sum(counts)
        if (
            self.log is not None
            or table is None
            or total > len(table)
            or src in owners
            or min(owners, default=0) < 0
            or min(counts, default=0) < 0
        ):
            for o, n in zip(owners, counts):
                self.transfer(src, o, n)
            return
        if total == 0:
            return
        # each sequential transfer takes the last pages left: owner 0 gets the last counts[0], owner 1 those before
        start = len(table) - total
        seg = table[start:]
        del table[start:]
        if not table:
            del self.tables[src]
        self.owner[np.asarray(seg, dtype=np.int64)] = np.repeat(np.asarray(owners[::-1], dtype=np.int64), counts[::-1])
        end = total
        for o, n in zip(owners, counts):
            if n:
                self.tables.setdefault(o, []).extend(seg[end - n : end])
                end -= n
        self.unmaps += total
        self.maps += total

    def move_page(self, owner: int, page: int) -> tuple[int, int]:
        """Remap virtual page ``page`` of ``owner`` onto a different free chunk; returns (old, new) chunk.

        A real backing copies the chunk's bytes first (``ArenaPool.move_page``).
        """
        table = self.tables.get(owner)
        if table is None or not (0 <= page < len(table)):
            raise PoolError(f"owner {owner} has no page {page}")
        if self._n_free == 0:
            raise PoolError("move_page: no free chunk")
        new = int(self._free[self._n_free - 1])
        self._n_free -= 1
        old = table[page]
        table[page] = new
        self.owner[new] = owner
        self._push_free(np.array([old], dtype=np.int64))
        self.maps += 1
        self.unmaps += 1
        return old, new

    def _push_free(self, ids: np.ndarray) -> None:
        self.owner[ids] = FREE
        n = len(ids)
        self._free[self._n_free : self._n_free + n] = ids[::-1]
        self._n_free += n

    # ---- invariants ----------------------------------------------------------------------------
    def check(self) -> None:
        """Raise AssertionError if any invariant (module docstring) is broken."""
        free = self._free[: self._n_free]
        assert len(np.unique(free)) == len(free), "a chunk is on the free list twice"
        assert np.all(self.owner[free] == FREE), "a chunk on the free list has an owner"
        assert int(np.sum(self.owner == FREE)) == self._n_free, "a free chunk is missing from the free list"
        mapped = 0
        for owner, table in self.tables.items():
            ids = np.asarray(table, dtype=np.int64)
            assert len(ids) > 0, f"owner {owner} has an empty page table"
            assert len(np.unique(ids)) == len(ids), f"owner {owner} maps a chunk twice"
            assert np.all(self.owner[ids] == owner), f"owner {owner}'s page table disagrees with the owner map"
            mapped += len(ids)
        assert mapped + self._n_free == self.n_chunks, "chunks leaked"


class ArenaPool(ChunkPool):
    """A ChunkPool whose chunks are rows of a real tensor (``n_chunks × chunk_elems``) on a device.

    ``transfer`` (lending) hands over chunks, not bytes: the borrower must not rely on the lender's contents.
    """

    def __init__(self, n_chunks: int, chunk_elems: int, dtype=None, device="cpu"):
        import torch

        dtype = dtype or torch.float32
        self.arena = torch.zeros((n_chunks, chunk_elems), dtype=dtype, device=device)
        super().__init__(n_chunks, chunk_elems * self.arena.element_size())
        self.chunk_elems = chunk_elems

    def _index(self, owner: int, start: int, n: int):
        """Flat arena indices of the owner's virtual elements [start, start+n)."""
        import torch

        table = torch.as_tensor(self.tables[owner], dtype=torch.long, device=self.arena.device)
        virt = torch.arange(start, start + n, device=self.arena.device)
        page, off = virt // self.chunk_elems, virt % self.chunk_elems
        if n and int(page.max()) >= len(table):
            raise PoolError(f"owner {owner}: element {start + n - 1} lies beyond its {len(table)} mapped pages")
        return table[page] * self.chunk_elems + off

    def write(self, owner: int, start: int, values) -> None:
        """Write a 1-D tensor into the owner's virtual address range starting at element ``start``."""
        flat = values.reshape(-1).to(self.arena.dtype)
        self.arena.view(-1)[self._index(owner, start, flat.numel())] = flat

    def read(self, owner: int, start: int, n: int):
        return self.arena.view(-1)[self._index(owner, start, n)]

    def move_page(self, owner: int, page: int) -> tuple[int, int]:
        old, new = super().move_page(owner, page)
        self.arena[new] = self.arena[old]
        return old, new


class PagedKV:
    """A per-request KV cache in an ArenaPool: token-major pages of ``[K|V] × heads × head_dim`` each.

    Token t of a request lives at virtual element ``t · 2·H·D`` of that request's virtual tensor;
    pages are mapped on demand as the request grows (``append``).
    """

    def __init__(self, pool: ArenaPool, n_heads: int, head_dim: int):
        self.pool, self.H, self.D = pool, n_heads, head_dim
        self.per_token = 2 * n_heads * head_dim
        self.length: dict[int, int] = {}

    def append(self, req: int, k, v) -> None:
        """Append tokens (k, v: ``[T, H, D]``) to request ``req``, mapping pages as needed."""
        import torch

        n0 = self.length.get(req, 0)
        T = k.shape[0]
        need = -(-((n0 + T) * self.per_token) // self.pool.chunk_elems) - self.pool.n_pages(req)
        if need > 0:
            self.pool.map(req, need)
        self.pool.write(req, n0 * self.per_token, torch.cat([k.reshape(T, -1), v.reshape(T, -1)], dim=1))
        self.length[req] = n0 + T

    def gather(self, req: int):
        """K, V of the request as ``[T, H, D]`` tensors, read through the page table."""
        T = self.length.get(req, 0)
        flat = self.pool.read(req, 0, T * self.per_token).reshape(T, 2, self.H, self.D)
        return flat[:, 0], flat[:, 1]

    def free(self, req: int) -> None:
        self.pool.release(req)
        self.length.pop(req, None)


def paged_attention(kv: PagedKV, req: int, q):
    """Single-query attention of ``q [H, D]`` over the request's paged KV: softmax(q·Kᵀ/√D)·V."""
    import torch

    k, v = kv.gather(req)
    scores = torch.einsum("hd,thd->ht", q.to(k.dtype), k) / (kv.D**0.5)
    return torch.einsum("ht,thd->hd", torch.softmax(scores, dim=-1), v)


def arena_check(device: str = "auto", seed: int = 0, n_requests: int = 3, n_heads: int = 4, head_dim: int = 32) -> dict:
    """Paged attention over a KV cache in an ArenaPool on ``device`` against a contiguous reference.

    Requests grow interleaved, one is freed and its chunks reused, runtime chunks are lent to a request
    and pages are moved (compaction); returns the largest absolute difference and the pool's counters.
    """
    import torch

    from ..device import resolve

    dev = resolve(device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    pool = ArenaPool(n_chunks=64, chunk_elems=2 * n_heads * head_dim * 16, device=dev)  # 16 tokens per chunk
    kv = PagedKV(pool, n_heads, head_dim)
    ref: dict[int, tuple] = {}

    def grow(r: int, t: int) -> None:
        k = torch.randn(t, n_heads, head_dim, generator=gen).to(dev)
        v = torch.randn(t, n_heads, head_dim, generator=gen).to(dev)
        kv.append(r, k, v)
        k0, v0 = ref.get(r, (k[:0], v[:0]))
        ref[r] = (torch.cat([k0, k]), torch.cat([v0, v]))

    reqs = list(range(100, 100 + n_requests))
    for step in range(4):
        for r in reqs:
            grow(r, 7 + 5 * ((r + step) % 3))
    kv.free(reqs[0])
    ref.pop(reqs[0])
    grow(reqs[1], 40)  # reuses the freed chunks
    pool.map(1, 2)
    pool.transfer(1, reqs[-1], 2)  # lent runtime chunks
    grow(reqs[-1], 30)
    for page in range(0, pool.n_pages(reqs[1]), 2):
        pool.move_page(reqs[1], page)
    pool.check()
    err = 0.0
    for r, (k, v) in ref.items():
        q = torch.randn(n_heads, head_dim, generator=gen).to(dev)
        s = torch.einsum("hd,thd->ht", q, k) / head_dim**0.5
        want = torch.einsum("ht,thd->hd", torch.softmax(s, -1), v)
        err = max(err, float((paged_attention(kv, r, q) - want).abs().max()))
    return {"device": str(dev), "max_abs_error": err, "maps": pool.maps, "unmaps": pool.unmaps, "requests": len(ref)}
