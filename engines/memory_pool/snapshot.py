"""Export a simulated memory timeline in PyTorch's memory-snapshot shape (``torch.cuda.memory._snapshot()``).

The dict has ``segments`` (each with ``address``, ``total_size``, ``allocated_size``, ``active_size``,
``requested_size``, ``stream``, ``segment_type``, ``segment_pool_id``, ``device``, ``is_expandable``,
``frames`` and ``blocks`` of ``address``/``size``/``requested_size``/``state``/``frames``) and
``device_traces`` (one list per device of entries with ``action``, ``addr``, ``size``, ``stream``,
``time_us``, ``frames``). Pickled, it opens in https://pytorch.org/memory_viz.

Elastic: each virtual tensor is an *expandable* segment whose chunks come and go with
``segment_map``/``segment_unmap`` (weights, overhead, runtime at the start of its own address range,
KV with chunk c at offset ``c × 2 MiB`` of the KV range); handing a KV-mapped chunk to a request is an
``alloc``, giving it back a ``free_requested`` + ``free_completed``. Only the last ``max_entries``
operations are kept (the same ring-buffer idea as torch's ``max_entries``).
Static: what the CUDA caching allocator sees under vLLM: weights, the profiled activation reserve and
one KV-cache tensor allocated at start-up (``segment_alloc`` + ``alloc``); per-request blocks live
in vLLM's block tables above the allocator and never reach it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .simulator import KVPOOL, OVERHEAD, OWNER0, RUNTIME, WEIGHTS

BASE = 0x7F0000000000
ACTIONS = {"alloc", "free_requested", "free_completed", "segment_alloc", "segment_free", "segment_map", "segment_unmap", "oom", "snapshot"}
SEGMENT_KEYS = (
    "address",
    "total_size",
    "allocated_size",
    "active_size",
    "requested_size",
    "stream",
    "segment_type",
    "segment_pool_id",
    "device",
    "is_expandable",
    "frames",
    "blocks",
)
BLOCK_KEYS = ("address", "size", "requested_size", "state", "frames")
TRACE_KEYS = ("action", "addr", "size", "stream", "time_us", "frames")


def _frames(name: str) -> list[dict]:
    return [{"filename": "engines/memory_pool/simulator.py", "line": 0, "name": name}]


def _runs(ids: np.ndarray) -> list[tuple[int, int]]:
    """Sorted chunk ids as (first, count) runs of consecutive ids."""
    ids = np.sort(np.asarray(ids, dtype=np.int64))
    if not len(ids):
        return []
    cut = np.flatnonzero(np.diff(ids) != 1) + 1
    starts = np.r_[0, cut]
    ends = np.r_[cut, len(ids)]
    return [(int(ids[s]), int(e - s)) for s, e in zip(starts, ends)]


def _segment(addr: int, blocks: list[dict], expandable: bool) -> dict:
    total = sum(b["size"] for b in blocks)
    used = sum(b["size"] for b in blocks if b["state"] == "active_allocated")
    return dict(
        device=0,
        address=addr,
        total_size=total,
        allocated_size=used,
        active_size=used,
        requested_size=used,
        stream=0,
        segment_type="large",
        segment_pool_id=(0, 0),
        is_expandable=expandable,
        frames=[],
        blocks=blocks,
    )


def _block(addr: int, size: int, active: bool, name: str) -> dict:
    return dict(
        address=addr,
        size=size,
        requested_size=size if active else 0,
        state="active_allocated" if active else "inactive",
        frames=_frames(name),
    )


def elastic_snapshot(pool, oplog, cap_chunks: int, chunk: int, max_entries: int) -> dict:
    """Snapshot of an elastic run: final pool state as segments, the operation log as trace entries."""
    span = cap_chunks * chunk
    va = {WEIGHTS: BASE, OVERHEAD: BASE + span, RUNTIME: BASE + 2 * span, KVPOOL: BASE + 3 * span}
    kv_base = va[KVPOOL]
    rt_len = 0
    trace: list[dict] = []

    def add(action, addr, size, t, name):
        trace.append(dict(action=action, addr=int(addr), size=int(size), stream=0, time_us=int(t * 1e6), frames=_frames(name)))

    def kv_runs(action, ids, t, name):
        for first, n in _runs(ids):
            add(action, kv_base + first * chunk, n * chunk, t, name)

    for t, action, owner, ids in oplog:
        n = len(ids)
        if action == "map":
            if owner == RUNTIME:
                add("segment_map", va[RUNTIME] + rt_len * chunk, n * chunk, t, "inflate")
                rt_len += n
            elif owner in (WEIGHTS, OVERHEAD):
                add("segment_map", va[owner], n * chunk, t, "load_weights" if owner == WEIGHTS else "overhead")
            else:
                kv_runs("segment_map", ids, t, "kv_map")
                kv_runs("alloc", ids, t, "kv_alloc")
        elif action == "unmap":
            if owner == RUNTIME:
                rt_len -= n
                add("segment_unmap", va[RUNTIME] + rt_len * chunk, n * chunk, t, "deflate")
            else:
                kv_runs("free_completed", ids, t, "kv_free")
                kv_runs("segment_unmap", ids, t, "kv_unmap")
        else:  # transfer
            src, dst = owner
            if src == RUNTIME:  # lend: out of the runtime tensor into the KV tensor
                rt_len -= n
                add("segment_unmap", va[RUNTIME] + rt_len * chunk, n * chunk, t, "lend")
                kv_runs("segment_map", ids, t, "lend")
            if dst == RUNTIME:  # inflate from KV-mapped unused chunks
                kv_runs("segment_unmap", ids, t, "reclaim")
                add("segment_map", va[RUNTIME] + rt_len * chunk, n * chunk, t, "inflate")
                rt_len += n
            if dst >= OWNER0:
                kv_runs("alloc", ids, t, "kv_alloc")
            if src >= OWNER0:
                kv_runs("free_requested", ids, t, "kv_free")
                kv_runs("free_completed", ids, t, "kv_free")
    trace = trace[-max_entries:]

    segments = []
    for owner, name in ((WEIGHTS, "weights"), (OVERHEAD, "overhead")):
        n = pool.n_pages(owner)
        if n:
            segments.append(_segment(va[owner], [_block(va[owner], n * chunk, True, name)], True))
    n_rt = pool.n_pages(RUNTIME)
    if n_rt:
        segments.append(_segment(va[RUNTIME], [_block(va[RUNTIME], n_rt * chunk, False, "runtime")], True))
    kv_ids = np.flatnonzero((pool.owner >= OWNER0) | (pool.owner == KVPOOL))
    for first, n in _runs(kv_ids):
        owners = pool.owner[first : first + n]
        blocks, i = [], 0
        while i < n:
            j = i
            while j < n and owners[j] == owners[i]:
                j += 1
            active = owners[i] >= OWNER0
            name = f"kv_request_{owners[i] - OWNER0}" if active else "kv_unused"
            blocks.append(_block(kv_base + (first + i) * chunk, (j - i) * chunk, bool(active), name))
            i = j
        segments.append(_segment(kv_base + first * chunk, blocks, True))
    return {"segments": segments, "device_traces": [trace]}


def static_snapshot(weight_bytes: int, overhead_bytes: int, reserve_bytes: int, kv_bytes: int) -> dict:
    """What the caching allocator sees under a static policy: four start-up allocations, nothing after."""
    segments, trace, addr = [], [], BASE
    for name, size in (
        ("weights", weight_bytes),
        ("overhead", overhead_bytes),
        ("activation_reserve", reserve_bytes),
        ("kv_cache", kv_bytes),
    ):
        if size <= 0:
            continue
        segments.append(_segment(addr, [_block(addr, int(size), name != "activation_reserve", name)], False))
        for action in ("segment_alloc", "alloc"):
            trace.append(dict(action=action, addr=addr, size=int(size), stream=0, time_us=0, frames=_frames(name)))
        addr += int(size)
    return {"segments": segments, "device_traces": [trace]}


def save_snapshot(snapshot: dict, path: str | Path) -> Path:
    path = Path(path)
    with path.open("wb") as fh:
        pickle.dump(snapshot, fh)
    return path


def load_snapshot(path: str | Path) -> dict:
    """Read a snapshot pickle and check it has the documented shape (ValueError names what is missing)."""
    with Path(path).open("rb") as fh:
        snap = pickle.load(fh)
    validate_snapshot(snap)
    return snap


def validate_snapshot(snap) -> None:
    if not isinstance(snap, dict) or "segments" not in snap or "device_traces" not in snap:
        raise ValueError("snapshot: expected a dict with 'segments' and 'device_traces'")
    for i, seg in enumerate(snap["segments"]):
        missing = [k for k in SEGMENT_KEYS if k not in seg]
        if missing:
            raise ValueError(f"snapshot: segment {i} lacks {', '.join(missing)}")
        if sum(b["size"] for b in seg["blocks"]) != seg["total_size"]:
            raise ValueError(f"snapshot: segment {i}'s blocks do not add up to its total_size")
        for b in seg["blocks"]:
            if any(k not in b for k in BLOCK_KEYS):
                raise ValueError(f"snapshot: a block of segment {i} lacks one of {', '.join(BLOCK_KEYS)}")
    for dev in snap["device_traces"]:
        for e in dev:
            if e.get("action") not in ACTIONS or any(k not in e for k in TRACE_KEYS):
                raise ValueError(f"snapshot: bad trace entry {e!r} (expected an action in {sorted(ACTIONS)} and {', '.join(TRACE_KEYS)})")
