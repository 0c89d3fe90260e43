"""What a job may cost: bounds that keep every run within minutes and a few GiB on a 2-core, 24 GB machine.

``check(config, trace, params)`` runs in ``Config.validate``, before any work, and refuses naming the field to change:

- **requests**: at most ``MAX_REQUESTS`` (a generated workload's ``n_requests``; a trace file after ``trace_limit``).
- **steps**: the simulator writes about one record per prefill chunk and two per request (a fast-forwarded decode
  stretch is one record), so ``Σ⌈input / chunk_tokens⌉ + 2·n`` at most ``MAX_STEPS`` per policy; every record
  costs 0.3–1 ms of one core here. Decoded tokens ``Σ output`` bound the iterations: at most ``MAX_DECODE_TOKENS``.
- **fit**: every request's input + output must fit the GPU alone: the KV chunks left beside the weights, the
  overhead, the admission watermark and the runtime memory of one prefill chunk ``A(chunk_tokens, 1)``. A
  request beyond that can finish under no policy (it would be preempted or offloaded over and over), so the job
  is refused rather than run. (A model whose weights alone do not fit is the simulator's own refusal.)
- **memory**: chunk-map frames (between ``n_frames`` and ``2·n_frames`` kept per policy, one byte per GPU chunk
  and, for elastic, per CPU-buffer chunk), timeline records (~640 bytes each) and snapshot entries (~700 bytes
  each) at most ``MAX_BYTES``.
"""

from __future__ import annotations

import math

import numpy as np

MAX_REQUESTS = 50_000
MAX_STEPS = 200_000
MAX_DECODE_TOKENS = 200_000_000
MAX_BYTES = 4 * 2**30
RECORD_BYTES = 640  # 16 timeline values a record: Python floats in lists while running, float64 arrays after
ENTRY_BYTES = 700  # one snapshot trace entry: a dict of six items (its frames are shared)


class JobTooLarge(ValueError):
    """A job this machine class cannot finish in minutes: ``field: what it would cost (allowed: ...)``."""


def request_capacity_tokens(p) -> int | None:
    """Tokens of KV one request may hold with the GPU to itself (see the module docstring); None if the weights do not fit."""
    C = p.chunk_bytes
    free = int(p.util * p.gpu.memory_bytes) // C - math.ceil(p.model.weight_bytes / C) - math.ceil(p.overhead_bytes / C)
    if free <= 2:
        return None
    watermark = math.ceil(p.watermark * free)
    runtime = math.ceil(int(p.model.activation_bytes(p.chunk_tokens, 1, p.workspace_bytes)) / C)
    kvb = p.model.kv_bytes_per_token
    tokens_per_page, chunks_per_page = max(1, C // kvb), max(1, math.ceil(kvb / C))
    return max(0, (free - watermark - runtime) // chunks_per_page * tokens_per_page)


def check(cfg, trace, params) -> None:
    """Refuse a job beyond the bounds above with ``JobTooLarge`` naming the field to change."""
    n = len(trace)
    source = "trace_limit" if cfg.trace or cfg.workload == "azure" else "n_requests"
    if n > MAX_REQUESTS:
        raise JobTooLarge(f"{source}: {n:,} requests is more than a run may simulate (allowed: at most {MAX_REQUESTS:,})")
    chunked = cfg.policy != "static_unchunked"
    steps = int(np.sum(-(-trace.input_tokens // cfg.chunk_tokens))) if chunked else n
    steps += 2 * n
    if steps > MAX_STEPS:
        raise JobTooLarge(
            f"{source}: about {steps:,} simulator steps per policy (a step per {cfg.chunk_tokens:,}-token prefill chunk, two per "
            f"request), more than the {MAX_STEPS:,} a run may take (allowed: fewer requests, shorter inputs or a larger chunk_tokens)"
        )
    decoded = int(trace.output_tokens.sum())
    if decoded > MAX_DECODE_TOKENS:
        raise JobTooLarge(
            f"{source}: {decoded:,} output tokens to decode, more than the {MAX_DECODE_TOKENS:,} a run may take (allowed: fewer requests)"
        )
    capacity = request_capacity_tokens(params)
    if capacity is not None:
        need = trace.input_tokens + trace.output_tokens
        worst = int(np.argmax(need))
        if need[worst] > capacity:
            field = "trace" if cfg.trace else ("long_input_tokens" if cfg.workload == "long_context" else "gpu")
            raise JobTooLarge(
                f"{field}: {trace.where(worst)}: a request of {int(need[worst]):,} tokens (input {int(trace.input_tokens[worst]):,} + "
                f"output {int(trace.output_tokens[worst]):,}) does not fit the GPU alone: {params.model.name} on {params.gpu.name} "
                f"holds at most {capacity:,} tokens of KV beside its weights, overhead, watermark and one prefill chunk's runtime "
                "memory, so no policy could finish it (allowed: shorter requests, or more memory: gpu, gpu_memory_gib)"
            )
    C = params.chunk_bytes
    gpu_chunks, cpu_chunks = params.gpu.memory_bytes // C, params.cpu_buffer_bytes // C
    pols = cfg.policies
    frames = 2 * cfg.n_frames * (len(pols) * gpu_chunks + ("elastic" in pols) * cpu_chunks)
    records = len(pols) * steps * RECORD_BYTES
    entries = cfg.snapshot_max_entries * ENTRY_BYTES if cfg.export_snapshot and "elastic" in pols else 0
    total = frames + records + entries
    if total > MAX_BYTES:
        parts = {"n_frames": frames, source: records, "snapshot_max_entries": entries}
        field = max(parts, key=parts.get)
        raise JobTooLarge(
            f"{field}: the run would keep about {total / 2**30:.1f} GiB (chunk-map frames {frames / 2**30:.1f}, timeline "
            f"{records / 2**30:.1f}, snapshot entries {entries / 2**30:.1f}), more than {MAX_BYTES / 2**30:.0f} GiB "
            "(allowed: fewer n_frames, a smaller gpu_memory_gib or cpu_buffer_gib, fewer requests or snapshot_max_entries)"
        )
