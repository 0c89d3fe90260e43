"""Long-context lab: RoPE scaling and an UltraLong-style context extension in miniature (arXiv:2504.06214).

RoPE scalings (none, linear, dynamic NTK, YaRN, llama3) written from their formulas and equal to transformers'
(``rope``); a calculator for real models from an HF config.json or a preset — KV cache, attention FLOPs, prefill
memory, which RoPE pairs a scaling interpolates (``calculator``); and the toy experiment: a tiny LlamaForCausalLM
trained on needle retrieval in a toy-language haystack at L_train, evaluated on a length × depth NIAH grid with
every scaling zero-shot, then continued-trained UltraLong-style at 8× L_train (packed documents, separator, no
cross-document mask, YaRN s = 8) beside a plain-RoPE control (``task``, ``model``, ``training``, ``evaluation``,
``scalings``, ``engine``). ``source="recorded"`` shows the run shipped in resources/long_context (``record``);
``source="extend"`` starts from its base checkpoint and redoes only the extension and the evaluation.

Readings where the paper leaves the miniature open (each a Config field): the haystack is a skip-gram toy language
with a next-token loss (``lm_weight``) so that the model has the local positional circuits a pretrained LLM has;
zero-shot scale s = L/L_train per length (``eval_scale``); the extended model keeps its trained s and uses
max(s_train, L/L_train) beyond its window; a pack is text documents then one needle document (``extend_*``).
"""

from .calculator import PRESETS, ModelConfigError, ModelFacts, ModelReport, model_report, read_model_config
from .config import Config
from .engine import run, stream
from .errors import LongContextError
from .record import load_model, record
from .result import Result
from .rope import inv_freq
from .scalings import SCALINGS

__all__ = ["Config", "Result", "stream", "run", "record", "load_model", "inv_freq", "model_report", "read_model_config",
           "ModelFacts", "ModelReport", "PRESETS", "SCALINGS", "LongContextError", "ModelConfigError"]
