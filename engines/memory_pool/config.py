"""The engine's Config: every knob of the workload, the hardware, the scheduler and the policies."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import ConfigBase, param
from . import traces
from .budget import MAX_REQUESTS
from .models import GPUS, MODELS
from .simulator import POLICIES

WORKLOADS = ("long_context_mix", "long_context", "chat", "bursty", "azure")


@dataclass(frozen=True)
class Config(ConfigBase):
    workload: str = param(
        "long_context_mix",
        "Request trace: long_context_mix (32K–128K inputs, 1K–4K outputs, Poisson), long_context (the paper's "
        "scenario: every request 128K in, 1K–4K out, all arriving at t=0), chat / bursty (log-normal lengths, "
        "Poisson / gamma arrivals), azure (the real Azure LLM conversation trace in ../shared/data). Ignored when "
        "`trace` names a file.",
        choices=WORKLOADS,
        group="Workload",
    )
    trace: str = param(
        "",
        "Path of a trace file to replay (Azure CSV, BurstGPT CSV or Mooncake JSONL); empty = use `workload`",
        group="Workload",
        gui=False,
    )
    trace_format: str = param(
        "auto",
        "Format of `trace` (auto sniffs the first line)",
        choices=("auto", "azure", "burstgpt", "mooncake"),
        group="Workload",
        gui=False,
    )
    trace_limit: int | None = param(
        None, "Replay only the first N requests of a trace file (None = all)", lo=1, hi=traces.MAX_ROWS, group="Workload", gui=False
    )
    trace_rate_rps: float | None = param(
        None,
        "Time-scale a trace file to this mean arrival rate (None = its real rate)",
        unit="req/s",
        lo=1e-6,
        hi=1e6,
        group="Workload",
        gui=False,
    )
    n_requests: int = param(40, "Requests in a generated trace", lo=1, hi=MAX_REQUESTS, group="Workload")
    rate_rps: float = param(0.08, "Mean arrival rate of a generated trace", unit="req/s", lo=1e-6, hi=10_000.0, group="Workload")
    burstiness: float = param(
        1.0,
        "Coefficient of variation of inter-arrival gaps (1 = Poisson, >1 bursty; `bursty` uses max(this, 3))",
        lo=0.1,
        hi=10.0,
        group="Workload",
    )
    input_median: int = param(
        1024, "Median input length of chat/bursty traces (log-normal, σ=0.8)", unit="tokens", lo=1, hi=1_048_576, group="Workload"
    )
    output_median: int = param(
        256, "Median output length of chat/bursty traces (log-normal, σ=0.8)", unit="tokens", lo=1, hi=65_536, group="Workload"
    )
    long_input_tokens: int = param(
        131072,
        "Input length of every request in the long_context workload",
        unit="tokens",
        lo=1024,
        hi=1_048_576,
        group="Workload",
        gui=False,
    )
    seed: int = param(0, "Seed of every random draw (trace generation)", lo=0, hi=2**31 - 1, group="Workload")

    model: str = param(
        "Llama-3.1-8B",
        "Model preset (Hugging Face config; the 70B runs 4-way tensor parallel, per-GPU memory shown)",
        choices=tuple(MODELS),
        group="Hardware",
    )
    gpu: str = param(
        "H100-80G",
        "GPU preset: memory, dense bf16 peak, HBM and PCIe bandwidth, chunk map/unmap latency",
        choices=tuple(GPUS),
        group="Hardware",
    )
    gpu_memory_gib: float | None = param(
        None, "Override the preset's memory size (None = preset)", unit="GiB", lo=1.0, hi=1024.0, group="Hardware", gui=False
    )
    gpu_memory_utilization: float = param(
        0.9,
        "Fraction of GPU memory either policy may use (vLLM's gpu_memory_utilization), the same cap for both",
        lo=0.1,
        hi=1.0,
        group="Hardware",
    )
    overhead_gib: float = param(
        1.0,
        "CUDA context, CUDA graphs and other non-torch memory (the same for both policies)",
        unit="GiB",
        lo=0.0,
        hi=64.0,
        group="Hardware",
        gui=False,
    )
    workspace_mib: float = param(
        256.0,
        "Constant activation workspace (cuBLAS / attention) inside A(N, S)",
        unit="MiB",
        lo=0.0,
        hi=8192.0,
        group="Hardware",
        gui=False,
    )
    mfu: float = param(0.6, "Fraction of peak FLOP/s a compute-bound step reaches (roofline)", lo=0.05, hi=1.0, group="Hardware", gui=False)
    mbu: float = param(
        0.8, "Fraction of HBM bandwidth a memory-bound step reaches (roofline)", lo=0.05, hi=1.0, group="Hardware", gui=False
    )
    step_overhead_ms: float = param(
        0.3, "Fixed per-iteration cost (scheduling, kernel launches)", unit="ms", lo=0.0, hi=100.0, group="Hardware", gui=False
    )
    map_us: float | None = param(
        None,
        "Override the preset's map latency per 2 MiB chunk (None = preset)",
        unit="µs",
        lo=0.0,
        hi=10_000.0,
        group="Hardware",
        gui=False,
    )
    pcie_gbps: float | None = param(
        None,
        "Override the preset's effective PCIe bandwidth (None = preset)",
        unit="GB/s",
        lo=0.1,
        lo_open=False,
        hi=1000.0,
        group="Hardware",
        gui=False,
    )

    policy: str = param(
        "all",
        "Which policies to simulate (all = static chunked, static unchunked and elastic on the same trace)",
        choices=("all", *POLICIES),
        group="Policies",
    )
    max_num_seqs: int = param(256, "Scheduler cap on concurrent sequences (the same for every policy)", lo=1, hi=4096, group="Policies")
    chunk_tokens: int = param(
        8192,
        "Prefill token budget of static_chunked, and elastic's chunk size when it chooses to chunk",
        unit="tokens",
        lo=16,
        hi=1_048_576,
        group="Policies",
    )
    block_tokens: int = param(
        16, "Static policy's KV block size (vLLM's default)", unit="tokens", lo=1, hi=1024, group="Policies", gui=False
    )
    watermark: float = param(
        0.01, "Free-memory watermark kept at admission (vLLM's 1%), both policies", lo=0.0, hi=0.5, group="Policies", gui=False
    )
    cpu_buffer_gib: float = param(
        64.0, "Elastic policy's CPU overflow buffer for offloaded KV pages", unit="GiB", lo=0.0, hi=4096.0, group="Policies"
    )
    deflate: str = param(
        "lazy",
        "When elastic unmaps idle runtime chunks: lazy (only when KV borrows them) or eager (after every prefill)",
        choices=("lazy", "eager"),
        group="Policies",
        gui=False,
    )

    ttft_slo_s: float = param(
        2.0,
        "TTFT target floor; a request's target is max(this, ttft_slo_scale × its unloaded prefill time)",
        unit="s",
        lo=0.0,
        lo_open=True,
        group="SLOs",
    )
    ttft_slo_scale: float = param(
        5.0, "TTFT target as a multiple of the request's own unloaded prefill time", lo=0.0, hi=1000.0, group="SLOs"
    )
    tpot_slo_s: float = param(0.1, "Time-per-output-token target", unit="s", lo=0.0, lo_open=True, group="SLOs")

    sensitivity: str = param(
        "off",
        "Sensitivity map of elastic/static ratios over GPU memory × input length: off, model (the chosen model) or all_models",
        choices=("off", "model", "all_models"),
        group="Output",
    )
    sensitivity_max_requests: int = param(
        160,
        "Cap on requests per sensitivity cell (each cell runs a saturating workload of ~2 waves)",
        lo=4,
        hi=1000,
        group="Output",
        gui=False,
    )
    n_frames: int = param(
        120, "Chunk-map frames kept for the animation (evenly spaced in simulated time)", lo=2, hi=2000, group="Output", gui=False
    )
    export_snapshot: bool = param(
        True,
        "Record chunk map/unmap operations and write memory_snapshot_<policy>.pickle (PyTorch memory-snapshot shape)",
        group="Output",
        gui=False,
    )
    snapshot_max_entries: int = param(
        20000,
        "Keep the last N trace entries in the snapshot (like torch's max_entries ring buffer; ~700 bytes each)",
        lo=1,
        hi=1_000_000,
        group="Output",
        gui=False,
    )

    def validate(self) -> None:
        from . import budget
        from .engine import make_params, make_trace  # engine imports this module

        if self.chunk_tokens < self.max_num_seqs and self.policy in ("all", "static_chunked"):
            raise ValueError(
                f"chunk_tokens: {self.chunk_tokens} is below max_num_seqs {self.max_num_seqs}: "
                "a full decode batch would not fit the budget (allowed: >= max_num_seqs)"
            )
        if self.workload == "long_context" and self.long_input_tokens < self.chunk_tokens:
            raise ValueError("long_input_tokens: shorter than chunk_tokens, nothing to chunk (allowed: >= chunk_tokens)")
        # the trace now (a file is parsed once, cached), so a bad file or an oversized job is refused before any run
        try:
            trace = make_trace(self)
        except traces.TraceError as err:
            raise traces.TraceError(f"trace: {err} (allowed: an Azure/BurstGPT CSV or a Mooncake JSONL file)") from None
        budget.check(self, trace, make_params(self))

    @property
    def policies(self) -> tuple[str, ...]:
        return POLICIES if self.policy == "all" else (self.policy,)
