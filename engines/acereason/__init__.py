"""AceReason (arXiv:2505.16400): on-policy token-level GRPO, math-only RL then code-only RL, in the reasoning world.

A Llama trained here (SFT on generated traces with distillation-like noise) is trained by strictly
on-policy GRPO — no KL, no entropy bonus, binary verifiable rewards, group-normalised advantages, token-mean
loss — first on math prompts with the response-length limit raised stage by stage, then on code prompts,
with overlong filtering and pass-rate filtering from the second stage on. Held-out math and code pass@1
are measured throughout (the paper's math → code transfer), and an ablation runs the first stage with 4
updates per batch (4 PPO-clipped passes over each rollout batch, same lr) to show the entropy collapse the
paper warns about.

Readings where the paper leaves room (each a Config field): the length stages are 24 → 32 tokens for math
and 40 for code (the paper's 8K → 16K → 24K → 32K, scaled to chains of 15–35 characters); pass-rate
filtering drops prompts solved above 0.9 from the second stage on; "k updates per batch" is k passes over
the batch (``update_mode = epochs``; mini-batch splitting is the other choice, and at this scale it left
entropy within noise of on-policy); evaluation samples at the training temperature with a fixed 48-token
limit; code traces write each step with the operands' values substituted (``y=3*4=12``). ``recorded=True`` opens the run
shipped in resources/reasoning/ (made by ``python -m engines record acereason``).
"""

from engines.reasoning.errors import ReasoningError as AceReasonError
from engines.reasoning.logs import LogFollower, read_log

from .bench import bench
from .config import Config
from .engine import load_recorded, log_result, open_log, recipe_for, run, stream
from .record import record
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "bench", "record", "read_log", "LogFollower", "open_log", "log_result",
           "load_recorded", "recipe_for", "AceReasonError"]
