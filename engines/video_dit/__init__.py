"""Video DiT preview: ASTRAEA token selection, query-sparse attention and evolutionary budget search (arXiv:2506.05096).

An in-project pixel-space video DiT (16 × 16 × 8 clips of moving shapes, 4 × 4 patches → 128 tokens, factorised
2-D + temporal sin-cos positions, adaLN-Zero, class-conditioned on shape × motion) trained with rectified flow
(``record``: the checkpoint shipped in resources/video_dit). ASTRAEA recomputes a budget of tokens per step ranked by
S = w_a·(LSE·Δtoken) + w_b·e^{n_i}, runs attention with queries of the selected tokens only (``attention``: one
fused CPU kernel gives the output and the LSE), reuses the cache for the rest (cached or recomputed K/V), and an
evolutionary algorithm searches the per-step budgets (``search``). Baselines at equal compute: uniform budget, fewer
steps, random tokens, a TeaCache-style step cache. ``distributed`` shards the tokens across processes (gloo).
"""

from .bench import bench
from .config import Config
from .engine import run, stream
from .errors import VideoDiTError
from .record import load_model, record
from .result import LABELS, METHODS, Result

__all__ = ["Config", "Result", "stream", "run", "bench", "record", "load_model", "METHODS", "LABELS", "VideoDiTError"]
