"""What one policy's simulation is given: the model, the GPU, the step-time model and every policy setting.

``engine.make_params`` builds it from a Config; the memory policies (``policies``), the scheduler (``scheduler``)
and the recorder (``recorder``) read only from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import GpuSpec, ModelSpec, Roofline


@dataclass
class SimParams:
    model: ModelSpec
    gpu: GpuSpec
    roofline: Roofline
    util: float = 0.9  # gpu_memory_utilization: the cap is util × GPU memory, for both policies
    overhead_bytes: int = 1 << 30  # CUDA context, graphs, NCCL buffers: outside the KV and runtime memory
    workspace_bytes: int = 256 << 20  # the constant term of the runtime memory A(N, S)
    max_num_seqs: int = 256  # scheduler cap on admitted sequences (running + offloaded)
    budget_tokens: int = 8192  # tokens per step of the unchunked policies (at least the longest prompt)
    chunk_tokens: int = 8192  # static_chunked's budget; elastic's chunk size when it chooses to chunk
    block_tokens: int = 16  # the static policy's KV block
    chunk_bytes: int = 2 << 20  # the elastic pool's physical chunk (CUDA VMM granularity)
    watermark: float = 0.01  # fraction of the KV capacity kept free at admission
    cpu_buffer_bytes: int = 64 << 30  # the elastic policy's CPU buffer for offloaded KV
    ttft_slo_s: float = 2.0
    ttft_slo_scale: float = 5.0
    tpot_slo_s: float = 0.1
    deflate: str = "lazy"  # when idle runtime chunks are unmapped: lazy (only when KV borrows them) or eager
    n_frames: int = 120  # chunk-map frames to keep (0: none)
    log_ops: bool = False  # log every pool operation (the memory-snapshot export reads the log)
