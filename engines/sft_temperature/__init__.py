"""AceReason-Nemotron 1.1 (arXiv:2506.13284): SFT scaling and the temperature-adjusted entropy, in the reasoning world.

Three findings, each measured here: growing SFT data by more prompts beats growing it by more responses per
prompt at equal token budgets; a stronger SFT start stays stronger after the same RL while the gap between starts
narrows; and the RL sampling temperature is best chosen so that the temperature-adjusted entropy H_T (the token
mean of the entropy of softmax(logits/T), veRL's ``actor/entropy``) sits at a target — the paper's 0.3 nats for a
7B model with a 152K vocabulary, here 0.1 nats for a 50-token toy (the same fraction of ln V; ``entropy.vocab_scaling``
shows why a fixed number does not carry across vocabularies).

The default job (``mode = advisor``) measures H_T against T on the reasoning world's recorded checkpoints
(resources/reasoning/checkpoints/seed0) and advises T, beside the recorded study in resources/sft_temperature/
(made by ``python -m engines record sft_temperature``: 5 SFT starts × 3 seeds, the same short GRPO on each, RL at
three temperatures). ``mode = study`` reruns the study live; ``checkpoint=PATH`` points the advisor at any Hugging
Face causal LM (a folder or a .gguf, e.g. SmolLM2-135M-Instruct).
"""

from .config import Config
from .engine import SFTTemperatureError, load_recorded, read_study, run, stream
from .entropy import advise, measure_entropy, token_entropy, vocab_scaling
from .record import record
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "record", "load_recorded", "read_study", "advise", "measure_entropy",
           "token_entropy", "vocab_scaling", "SFTTemperatureError"]
