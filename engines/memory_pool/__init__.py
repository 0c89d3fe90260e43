"""LLM serving memory pool: eLLM's elastic memory against static partitioning (arXiv:2506.15155).

A roofline-costed, iteration-level serving simulator over a pool of 2 MiB chunks with virtual tensors
(``pool``), model/GPU memory arithmetic (``models``), static (vLLM-faithful) and elastic (eLLM)
policies (``simulator``), trace generators and loaders (``traces``), a sensitivity map
(``sensitivity``) and an export in PyTorch's memory-snapshot shape (``snapshot``).
"""

from .api import bench, make_params, make_trace, run, stream
from .config import Config
from .pool import arena_check
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "bench", "make_params", "make_trace", "arena_check"]
