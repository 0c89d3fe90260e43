"""The chunk pool: invariants under random operation sequences, and a real arena behind paged attention."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.memory_pool.pool import FREE, ArenaPool, ChunkPool, PagedKV, PoolError, paged_attention

ops = st.lists(
    st.tuples(st.sampled_from(["map", "unmap", "release", "transfer", "move"]), st.integers(0, 5), st.integers(-1, 5), st.integers(0, 12)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(n_chunks=st.integers(0, 40), seq=ops)
def test_pool_invariants_hold_under_random_operations(n_chunks, seq):
    pool = ChunkPool(n_chunks, 2 << 20)
    model: dict[int, int] = {}  # owner -> pages, an independent tally
    for op, a, b, n in seq:
        try:
            if op == "map":
                ids = pool.map(a, n)
                assert len(ids) == n
                model[a] = model.get(a, 0) + n
            elif op == "unmap":
                pool.unmap(a, n)
                model[a] -= n
            elif op == "release":
                model[a] = model.get(a, 0) - pool.release(a)
            elif op == "transfer":
                before = pool.pages(a)[-n:] if n else np.empty(0)
                moved = pool.transfer(a, b, n)
                assert sorted(moved.tolist()) == sorted(before.tolist())  # the same physical chunks change hands
                model[a] -= n
                model[b] = model.get(b, 0) + n
            else:
                old, new = pool.move_page(a, n)
                assert old != new and pool.owner[old] == FREE and pool.owner[new] == a
        except PoolError:
            pass  # refused operations must leave the pool untouched (checked below)
        pool.check()
        assert {k: v for k, v in model.items() if v} == {o: pool.n_pages(o) for o in pool.owners()}
        assert pool.n_free + sum(model.values()) == n_chunks


def test_pool_refuses_what_it_cannot_do():
    pool = ChunkPool(4)
    pool.map(1, 3)
    with pytest.raises(PoolError):
        pool.map(2, 2)
    with pytest.raises(PoolError):
        pool.unmap(1, 4)
    with pytest.raises(PoolError):
        pool.move_page(7, 0)
    with pytest.raises(PoolError):
        pool.map(-1, 1)
    pool.check()


def _reference(k, v, q):
    s = torch.einsum("hd,thd->ht", q, k) / k.shape[-1] ** 0.5
    return torch.einsum("ht,thd->hd", torch.softmax(s, -1), v)


def test_paged_attention_over_the_pool_matches_contiguous_reference_after_chunks_move():
    torch.manual_seed(0)
    H, D = 4, 16
    pool = ArenaPool(n_chunks=24, chunk_elems=2 * H * D * 8, device="cpu")  # 8 tokens per chunk
    kv = PagedKV(pool, H, D)
    full = {r: (torch.randn(0, H, D), torch.randn(0, H, D)) for r in (10, 11, 12)}

    def append(r, t):
        k, v = torch.randn(t, H, D), torch.randn(t, H, D)
        kv.append(r, k, v)
        full[r] = (torch.cat([full[r][0], k]), torch.cat([full[r][1], v]))

    append(10, 19)
    append(11, 7)
    append(12, 30)
    append(10, 5)  # interleaved growth: request 10's pages are not contiguous
    kv.free(11)  # 11's chunks go back to the free list ...
    append(12, 9)  # ... and are reused by 12
    # runtime borrows two chunks and lends them back to request 10 (contents are not carried)
    pool.map(1, 2)
    pool.transfer(1, 10, 2)
    # the lent pages lie past request 10's tokens: gather reads only its own tokens
    for page in range(pool.n_pages(12)):
        if page % 2 == 0:
            pool.move_page(12, page)  # compaction: bytes copied, page table updated
    pool.check()
    for r in (10, 12):
        q = torch.randn(H, D)
        k, v = kv.gather(r)
        torch.testing.assert_close(k, full[r][0])
        torch.testing.assert_close(v, full[r][1])
        torch.testing.assert_close(paged_attention(kv, r, q), _reference(*full[r], q), rtol=1e-5, atol=1e-6)


def test_reading_past_the_mapped_pages_is_an_error():
    pool = ArenaPool(4, 8)
    pool.map(3, 1)
    with pytest.raises(PoolError):
        pool.read(3, 4, 8)


def test_arena_check_on_the_cpu():
    from engines.memory_pool.pool import arena_check

    out = arena_check("cpu", seed=1)
    assert out["device"] == "cpu" and out["requests"] == 2
    assert out["max_abs_error"] < 1e-5
    assert out["maps"] > out["unmaps"] > 0


def _state(pool):
    return (
        pool.owner.tolist(),
        {o: list(t) for o, t in pool.tables.items()},
        pool._free[: pool.n_free].tolist(),
        pool.maps,
        pool.unmaps,
    )


@settings(max_examples=150, deadline=None)
@given(
    n_chunks=st.integers(0, 60),
    seed=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), max_size=8),
    batches=st.lists(
        st.tuples(st.booleans(), st.integers(0, 3), st.lists(st.tuples(st.integers(4, 12), st.integers(0, 6)), max_size=6)),
        max_size=12,
    ),
)
def test_batched_maps_and_transfers_equal_the_same_operations_one_by_one(n_chunks, seed, batches):
    """map_each / transfer_each against their definition: the single operations in order (same chunks, tables, counters)."""
    one, many = ChunkPool(n_chunks), ChunkPool(n_chunks)
    for pool in (one, many):
        for o, n in seed:
            try:
                pool.map(o, n)
            except PoolError:
                pass
    for is_map, src, pairs in batches:
        owners, counts = [o for o, _ in pairs], [n for _, n in pairs]
        refused = []
        for pool, batched in ((one, False), (many, True)):
            try:
                if batched:
                    (pool.map_each(owners, counts) if is_map else pool.transfer_each(src, owners, counts))
                else:
                    for o, n in pairs:
                        pool.map(o, n) if is_map else pool.transfer(src, o, n)
            except PoolError:
                refused.append(batched)
        assert refused in ([], [False, True])  # refused by both or by neither
        assert _state(one) == _state(many)  # a refused batch did what its first single operations did, no more
        many.check()
