"""Where elastic memory pays: elastic/static ratios over GPU memory × input length × model.

Each cell runs the three policies on a saturating long-context workload (every request of the cell's
input length arrives at t=0, outputs uniform in 1K–4K), with enough requests for about two waves of
the elastic batch (capped by ``sensitivity_max_requests``). The memory axis changes only the memory
size (the chosen GPU's compute and bandwidth stay), so the map isolates the memory effect. A ratio is
``inf`` where the static policy cannot serve the input at all (its KV pool after the reserve is
smaller than one request) and ``nan`` where no policy can. ``served_<policy>`` is the fraction of
requests a policy completes: a static pool a little smaller than prompt + output rejects the requests
with the longest outputs, and a throughput ratio there compares unequal work (``cell_text`` says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from . import traces
from .models import MODELS
from .params import SimParams
from .simulator import POLICIES, PolicyRun, simulate

MEMORY_GB = (40.0, 64.0, 80.0, 96.0, 141.0)
INPUT_TOKENS = (8192, 32768, 131072, 524288)


def cell_requests(p: SimParams, input_tokens: int, cap: int) -> int:
    """About two waves of the elastic batch: 2 × (pool bytes / KV bytes of one request) + 2, within [4, cap]."""
    pool = p.util * p.gpu.memory_bytes - p.model.weight_bytes - p.overhead_bytes
    per_req = p.model.kv_bytes_per_token * (input_tokens + 2560)
    return int(np.clip(2 * pool // max(per_req, 1) + 2, 4, cap))


# the colour scale of the map: a ratio of 1 (elastic buys nothing) near the bottom, the paper's 2.32× near the top;
# a cell where static cannot serve at all is drawn at the top of the scale
RATIO_RANGE = (0.9, 2.5)


def sweep(
    make_params: Callable[[str, float], SimParams],
    models: tuple[str, ...],
    seed: int,
    cap: int,
    memory_gb: tuple[float, ...] = MEMORY_GB,
    input_tokens: tuple[int, ...] = INPUT_TOKENS,
) -> Iterator[tuple[float, dict]]:
    """Yields ``(fraction done, map)`` after every cell; the map is a fresh dict of arrays indexed [model, memory,
    input] (cells not computed yet are NaN and ``computed`` False), so a receiver may keep every one."""
    shape = (len(models), len(memory_gb), len(input_tokens))
    out = {f"{k}_{p}": np.full(shape, np.nan) for k in ("tps", "batch", "served") for p in POLICIES}
    computed = np.zeros(shape, dtype=bool)
    total, done = int(np.prod(shape)), 0
    for i, model in enumerate(models):
        for j, mem in enumerate(memory_gb):
            p = dataclasses.replace(make_params(model, mem), n_frames=0, log_ops=False)
            for k, n_in in enumerate(input_tokens):
                tr = traces.long_context(seed, cell_requests(p, n_in, cap), n_in)
                for pol in POLICIES:
                    run = None
                    if p.model.weight_bytes + p.overhead_bytes + 2 * p.chunk_bytes > p.util * p.gpu.memory_bytes:
                        break  # the weights alone do not fit: the cell stays nan
                    for x in simulate(pol, p, tr):
                        if isinstance(x, PolicyRun):
                            run = x
                    served = run.stats["finished"] > 0
                    out[f"tps_{pol}"][i, j, k] = run.stats["decode_tokens_per_s"] if served else 0.0
                    out[f"batch_{pol}"][i, j, k] = run.stats["max_batch"] if served else 0.0
                    # the fraction of requests a policy completes (the rest need more KV than it can ever hold)
                    out[f"served_{pol}"][i, j, k] = run.stats["finished"] / len(tr)
                computed[i, j, k] = True
                done += 1
                yield done / total, _with_ratios(out, computed, models, memory_gb, input_tokens)


def _with_ratios(cells: dict, computed: np.ndarray, models, memory_gb, input_tokens) -> dict:
    """A copy of the cells so far, with the elastic/static ratios and the axes."""
    out = {k: v.copy() for k, v in cells.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        for base in ("static_unchunked", "static_chunked"):
            out[f"tps_ratio_vs_{base}"] = out["tps_elastic"] / out[f"tps_{base}"]
            out[f"batch_ratio_vs_{base}"] = out["batch_elastic"] / out[f"batch_{base}"]
    out["computed"] = computed.copy()
    out["memory_gb"] = np.asarray(memory_gb)
    out["input_tokens"] = np.asarray(input_tokens)
    out["models"] = np.asarray(models)
    out["activation_to_kv"] = np.asarray([MODELS[m].activation_to_kv for m in models])
    return out


def cell_text(ratio: float, batch_ratio: float, served: float, computed: bool = True) -> str:
    """What one cell of the map says, in the one wording the panel and the figures share."""
    if not computed:
        return ""
    if ratio == np.inf:
        return "static\ncannot serve"
    if not np.isfinite(ratio):
        return "no policy\nfits"
    if served < 1:  # static completes only part of the requests: the ratio compares unequal work
        return f"{ratio:.2f}×\nstatic serves {served:.0%}"
    return f"{ratio:.2f}×\nbatch {batch_ratio:.2g}×"


def cell_shade(ratio: np.ndarray) -> np.ndarray:
    """The value a cell is coloured by: the ratio, clipped to RATIO_RANGE; "static cannot serve" at the top, NaN stays NaN."""
    r = np.asarray(ratio, dtype=float)
    return np.clip(np.where(r == np.inf, RATIO_RANGE[1], r), *RATIO_RANGE)
