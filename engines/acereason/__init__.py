"""AceReason (arXiv:2505.16400): on-policy token-level GRPO, math-only RL then code-only RL, in the reasoning world.

A Llama trained here (SFT on generated traces with distillation-like noise) is trained by strictly
on-policy GRPO — no KL, no entropy bonus, binary verifiable rewards, group-normalised advantages, token-mean
loss — first on math prompts with the response-length limit raised stage by stage, then on code prompts,
with overlong filtering and pass-rate filtering from the second stage on. Held-out math and code pass@1
are measured throughout (the paper's math → code transfer), and an ablation runs the first stage with 4
updates per batch to show the entropy collapse the paper warns about. ``recorded=True`` opens the run
shipped in resources/reasoning/ (made by ``python -m engines record acereason``).
"""

from engines.reasoning.errors import ReasoningError as AceReasonError
from engines.reasoning.logs import LogFollower, read_log

from .bench import bench
from .config import Config
from .engine import load_recorded, recipe_for, run, stream
from .record import record
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "bench", "record", "read_log", "LogFollower", "load_recorded", "recipe_for",
           "AceReasonError"]
