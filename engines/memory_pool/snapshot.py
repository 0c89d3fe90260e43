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

Reading one back (``load_snapshot``): a pickle is opened with a restricted unpickler that builds only the
plain containers and scalars PyTorch's snapshots consist of (dict, list, tuple, str, bytes, int, float, bool,
None, set) and refuses any class or function a pickle names (a crafted pickle would otherwise run code);
a ``.json`` file holds the same dict as JSON. Either way the shape is checked record by record
(``SnapshotError`` names the file, the segment/block or trace entry, and what was expected).
"""

from __future__ import annotations

import io
import pickle
from collections import deque
from pathlib import Path

import numpy as np

from engines.inputs import InputError, json_loads, read_bytes

from .policies import FIRST_REQUEST_OWNER, KV_UNUSED, OVERHEAD, RUNTIME, WEIGHTS


class SnapshotError(InputError):
    """A memory-snapshot file that cannot be used: the message names the file, the record and what was expected."""


MAX_SNAPSHOT_BYTES = 1 << 30

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


_FRAMES: dict[str, list[dict]] = {}


def _frames(name: str) -> list[dict]:
    """The one stack a named operation reports; shared between entries (a snapshot holds many of each)."""
    if name not in _FRAMES:
        _FRAMES[name] = [{"filename": "engines/memory_pool/simulator.py", "line": 0, "name": name}]
    return _FRAMES[name]


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


class ElasticRecorder:
    """Turns an elastic pool's operation log into snapshot trace entries as the run goes, keeping the last ``max_entries``.

    ``feed(ops)`` converts ``(time, action, owner, chunk ids)`` records (``ChunkPool.log``) and may be called with
    the log in pieces, so a long run never holds its whole log; ``snapshot(pool)`` adds the pool's final state
    as segments.
    """

    def __init__(self, cap_chunks: int, chunk: int, max_entries: int):
        span = cap_chunks * chunk
        self.chunk = chunk
        self.va = {WEIGHTS: BASE, OVERHEAD: BASE + span, RUNTIME: BASE + 2 * span, KV_UNUSED: BASE + 3 * span}
        self.rt_len = 0  # chunks mapped into the runtime tensor: it grows and shrinks at its end
        self.trace: deque[dict] = deque(maxlen=max_entries)

    def _add(self, action: str, addr: int, size: int, t: float, name: str) -> None:
        self.trace.append(dict(action=action, addr=int(addr), size=int(size), stream=0, time_us=int(t * 1e6), frames=_frames(name)))

    def _kv_runs(self, action: str, ids, t: float, name: str) -> None:
        for first, n in _runs(ids):
            self._add(action, self.va[KV_UNUSED] + first * self.chunk, n * self.chunk, t, name)

    def feed(self, ops) -> None:
        va, chunk, add, kv_runs = self.va, self.chunk, self._add, self._kv_runs
        for t, action, owner, ids in ops:
            n = len(ids)
            if action == "map":
                if owner == RUNTIME:
                    add("segment_map", va[RUNTIME] + self.rt_len * chunk, n * chunk, t, "inflate")
                    self.rt_len += n
                elif owner in (WEIGHTS, OVERHEAD):
                    add("segment_map", va[owner], n * chunk, t, "load_weights" if owner == WEIGHTS else "overhead")
                else:
                    kv_runs("segment_map", ids, t, "kv_map")
                    kv_runs("alloc", ids, t, "kv_alloc")
            elif action == "unmap":
                if owner == RUNTIME:
                    self.rt_len -= n
                    add("segment_unmap", va[RUNTIME] + self.rt_len * chunk, n * chunk, t, "deflate")
                else:
                    kv_runs("free_completed", ids, t, "kv_free")
                    kv_runs("segment_unmap", ids, t, "kv_unmap")
            else:  # transfer
                src, dst = owner
                if src == RUNTIME:  # lend: out of the runtime tensor into the KV tensor
                    self.rt_len -= n
                    add("segment_unmap", va[RUNTIME] + self.rt_len * chunk, n * chunk, t, "lend")
                    kv_runs("segment_map", ids, t, "lend")
                if dst == RUNTIME:  # inflate from KV-mapped unused chunks
                    kv_runs("segment_unmap", ids, t, "reclaim")
                    add("segment_map", va[RUNTIME] + self.rt_len * chunk, n * chunk, t, "inflate")
                    self.rt_len += n
                if dst >= FIRST_REQUEST_OWNER:
                    kv_runs("alloc", ids, t, "kv_alloc")
                if src >= FIRST_REQUEST_OWNER:
                    kv_runs("free_requested", ids, t, "kv_free")
                    kv_runs("free_completed", ids, t, "kv_free")

    def snapshot(self, pool) -> dict:
        """The final pool state as segments beside the kept trace entries."""
        va, chunk, kv_base = self.va, self.chunk, self.va[KV_UNUSED]
        segments = []
        for owner, name in ((WEIGHTS, "weights"), (OVERHEAD, "overhead")):
            n = pool.n_pages(owner)
            if n:
                segments.append(_segment(va[owner], [_block(va[owner], n * chunk, True, name)], True))
        n_rt = pool.n_pages(RUNTIME)
        if n_rt:
            segments.append(_segment(va[RUNTIME], [_block(va[RUNTIME], n_rt * chunk, False, "runtime")], True))
        kv_ids = np.flatnonzero((pool.owner >= FIRST_REQUEST_OWNER) | (pool.owner == KV_UNUSED))
        for first, n in _runs(kv_ids):
            owners = pool.owner[first : first + n]
            blocks, i = [], 0
            while i < n:
                j = i
                while j < n and owners[j] == owners[i]:
                    j += 1
                active = owners[i] >= FIRST_REQUEST_OWNER
                name = f"kv_request_{owners[i] - FIRST_REQUEST_OWNER}" if active else "kv_unused"
                blocks.append(_block(kv_base + (first + i) * chunk, (j - i) * chunk, bool(active), name))
                i = j
            segments.append(_segment(kv_base + first * chunk, blocks, True))
        return {"segments": segments, "device_traces": [list(self.trace)]}


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


class _PlainUnpickler(pickle.Unpickler):
    """Builds containers and scalars only: any global a pickle names (a class, a function such as os.system) is refused."""

    ALLOWED = {("builtins", "set"), ("builtins", "frozenset")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names {module}.{name}; a memory snapshot holds only dicts, lists, strings and numbers")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it refers to an external object (a persistent id); a memory snapshot holds none")


def load_snapshot(path: str | Path) -> dict:
    """A memory snapshot from a pickle (restricted: no code runs) or a JSON file, checked against the documented shape."""
    raw = read_bytes(path, SnapshotError, MAX_SNAPSHOT_BYTES)
    if raw.lstrip()[:1] in (b"{", b"\xef"):  # JSON (possibly after a byte-order mark)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SnapshotError(f"{path}: neither a pickle nor UTF-8 JSON") from None
        snap = json_loads(text, path, SnapshotError)
    else:
        try:
            snap = _PlainUnpickler(io.BytesIO(raw)).load()
        except pickle.UnpicklingError as err:
            raise SnapshotError(f"{path}: refused: {err}") from None
        except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, RecursionError, MemoryError) as err:
            raise SnapshotError(f"{path}: not a readable pickle ({type(err).__name__}: {str(err)[:80]})") from None
    validate_snapshot(snap, path)
    return snap


def _count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def validate_snapshot(snap, source: str | Path = "snapshot") -> None:
    """The documented shape, record by record: SnapshotError names the segment, block or trace entry at fault."""
    if not isinstance(snap, dict) or not isinstance(snap.get("segments"), list) or not isinstance(snap.get("device_traces"), list):
        raise SnapshotError(f"{source}: expected a dict with 'segments' (a list) and 'device_traces' (a list of lists)")
    for i, seg in enumerate(snap["segments"]):
        if not isinstance(seg, dict):
            raise SnapshotError(f"{source}: segment {i} is a {type(seg).__name__}, expected a dict")
        missing = [k for k in SEGMENT_KEYS if k not in seg]
        if missing:
            raise SnapshotError(f"{source}: segment {i} lacks {', '.join(missing)}")
        bad = [k for k in ("address", "total_size", "allocated_size", "active_size", "requested_size") if not _count(seg[k])]
        if bad or not isinstance(seg["blocks"], list):
            raise SnapshotError(f"{source}: segment {i}: {', '.join(bad) or 'blocks'} must be {'whole numbers ≥ 0' if bad else 'a list'}")
        for j, b in enumerate(seg["blocks"]):
            if not isinstance(b, dict) or any(k not in b for k in BLOCK_KEYS):
                raise SnapshotError(f"{source}: segment {i}, block {j}: expected a dict with {', '.join(BLOCK_KEYS)}")
            if not (_count(b["address"]) and _count(b["size"]) and _count(b["requested_size"]) and isinstance(b["state"], str)):
                raise SnapshotError(
                    f"{source}: segment {i}, block {j}: address, size, requested_size must be whole numbers ≥ 0, state text"
                )
        if sum(b["size"] for b in seg["blocks"]) != seg["total_size"]:
            raise SnapshotError(f"{source}: segment {i}'s blocks do not add up to its total_size")
    for d, dev in enumerate(snap["device_traces"]):
        if not isinstance(dev, list):
            raise SnapshotError(f"{source}: device_traces[{d}] is a {type(dev).__name__}, expected a list of entries")
        for k, e in enumerate(dev):
            ok = isinstance(e, dict) and isinstance(e.get("action"), str) and e["action"] in ACTIONS and all(key in e for key in TRACE_KEYS)
            if not ok or not (_count(e["addr"]) and _count(e["size"]) and isinstance(e["time_us"], int) and isinstance(e["frames"], list)):
                raise SnapshotError(
                    f"{source}: device_traces[{d}][{k}]: bad trace entry {str(e)[:120]} "
                    f"(expected an action in {sorted(ACTIONS)} and {', '.join(TRACE_KEYS)}, addr/size whole numbers ≥ 0)"
                )
