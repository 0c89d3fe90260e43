"""CoT-Pass@K (arXiv:2506.14245): Pass@K credits right answers reached by wrong chains; CoT-Pass@K does not.

n samples per held-out prompt of the reasoning world are drawn from each recorded checkpoint (the SFT end and
those along math-then-code RL), every step is verified, and the unbiased estimators — Pass@K with c right
answers, CoT-Pass@K with D samples right in answer *and* every step, in the stable product form — give curves for
K = 1..n with bootstrap bands over prompts, the K where the SFT checkpoint's Pass@K catches up with RL's, P(CC|CA)
per prompt, the logic prior, and the dynamics along training. Chains can be judged exactly or by a simulated noisy
judge (false-positive / false-negative rates, calls, any/majority/all); a user's own evaluation dump (JSONL) runs
through the same estimators. ``absorb`` is the lucky-chain knob; ``source = lucky`` opens a run RL-trained with
lucky chains common (``python -m engines record cot_pass_at_k``).
"""

from .config import Config
from .dumps import CotPassError, read_dump, write_dump
from .engine import dump_result, open_dump, run, stream
from .record import SAMPLES, record
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "record", "read_dump", "write_dump", "open_dump", "dump_result", "CotPassError", "SAMPLES"]
