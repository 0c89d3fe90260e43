"""The reasoning world: a library (not an engine) that four reasoning papers' engines share.

Task families with checkable chains of thought (``tasks``, run by ``interpreter``, judged by ``verifier``),
a character tokenizer built as a ``PreTrainedTokenizerFast`` (``tokenizer``), a ``LlamaForCausalLM`` policy
or any Hugging Face causal LM (``model``), batched KV-cached sampling with temperature, top-p, log-probs
and per-token entropy (``sampling``), SFT on generated traces (``sft``), token-level on-policy GRPO with
stages, overlong and pass-rate filtering (``grpo``), held-out pass@1 with chain flags (``evaluate``), the
whole SFT → RL recipe for one seed (``recipe``), checkpoints (``checkpoints``) and readers for TRL, veRL,
our own and TensorBoard logs (``logs``). ``reference`` holds the slow oracles the tests use.

Importing this package loads numpy only; torch and transformers load with the modules that need them.
"""

from .errors import ReasoningError
from .interpreter import parse as parse_program
from .interpreter import trace as run_program
from .logs import CANONICAL, LogError, LogFollower, LogRun, canonical, read_log
from .tasks import FAMILIES, WAIT, Step, Task, absorbs, heldout_tasks, make_task, make_tasks, solve, split_of, trace_text
from .verifier import Verdict, verify

__all__ = [
    # tasks and verification (numpy only)
    "FAMILIES", "WAIT", "Step", "Task", "make_task", "make_tasks", "heldout_tasks", "solve", "split_of", "absorbs", "trace_text",
    "parse_program", "run_program", "Verdict", "verify", "ReasoningError",
    # logs
    "read_log", "LogFollower", "LogRun", "LogError", "CANONICAL", "canonical",
]
# torch-side API (import the modules): tokenizer.char_tokenizer, model.tiny_llama / load_policy / ModelShape,
# sampling.sample / Rollout, sft.train_sft / TraceMix / SFTSettings, grpo.GRPO / Stage / GRPOSettings /
# group_advantages / token_loss, evaluate.evaluate / Evaluation, recipe.Recipe / run_recipe / EvalSettings,
# checkpoints.save_checkpoint / load_checkpoint / list_checkpoints.
