"""LLM serving memory pool: eLLM's elastic memory against static partitioning (arXiv:2506.15155).

A roofline-costed, iteration-level serving simulator over a pool of 2 MiB chunks with virtual tensors
(``pool``), model/GPU memory arithmetic (``models``), static (vLLM-faithful) and elastic (eLLM)
memory policies (``policies``) driven by one scheduler (``scheduler``), recorded (``recorder``) and wired
together per policy (``simulator``), trace generators and loaders (``traces``), a sensitivity map
(``sensitivity``) and an export in PyTorch's memory-snapshot shape (``snapshot``).

The public face: Config, Result, stream, run, bench; the readers (``load_trace``, ``load_snapshot``) and
their errors; what every view of a result shares (colours, labels, chunk-map codes, event kinds).
"""

from .bench import bench
from .config import Config
from .engine import make_params, make_trace, run, stream
from .policies import CATEGORIES, KV_HUES
from .pool import arena_check
from .recorder import EVENT_KINDS
from .result import CATEGORY_LABELS, CHUNK_CODES, COLORS, POLICY_LABELS, Result
from .sensitivity import RATIO_RANGE
from .simulator import POLICIES
from .snapshot import SnapshotError, load_snapshot
from .traces import TraceError
from .traces import load as load_trace

__all__ = [
    "Config",
    "Result",
    "stream",
    "run",
    "bench",
    "make_params",
    "make_trace",
    "arena_check",
    "load_trace",
    "load_snapshot",
    "TraceError",
    "SnapshotError",
    "COLORS",
    "CATEGORY_LABELS",
    "POLICY_LABELS",
    "CHUNK_CODES",
    "KV_HUES",
    "RATIO_RANGE",
    "CATEGORIES",
    "EVENT_KINDS",
    "POLICIES",
]
